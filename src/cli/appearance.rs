//! `kyso sign`'s visible-signature flags, and how they combine with the
//! config file's `[appearance]` section into an [`AppearanceRequest`].

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::appearance::{
    Anchor, AnchorPlace, AppearanceDefaults, AppearanceRequest, ImageSource, Profile,
};

/// The visible-signature flags of `kyso sign` (Decree 30/2020 Appendix I).
#[derive(Debug, Clone, Default, Args)]
pub struct AppearanceArgs {
    /// The visible signature: approved (signer's image), issued (seal over
    /// it), appendix (text, top right of page 1), copy (sao y stamp), or none
    /// [default: from the config, else none]
    #[arg(long, value_enum, value_name = "PROFILE")]
    pub profile: Option<ProfileArg>,

    /// The page, 1-based; negative counts from the end (-1 = last)
    #[arg(long, allow_negative_numbers = true, value_name = "N")]
    pub page: Option<i64>,

    /// The box in PDF points in the page's user space: X0,Y0,X1,Y1
    #[arg(long, allow_hyphen_values = true, value_name = "X0,Y0,X1,Y1", conflicts_with_all = ["rect_mm", "anchor"])]
    pub rect: Option<Numbers<4>>,

    /// The box in mm from the top-left corner of the page as seen: X,Y,W,H
    #[arg(
        long,
        allow_hyphen_values = true,
        value_name = "X,Y,W,H",
        conflicts_with = "anchor"
    )]
    pub rect_mm: Option<Numbers<4>>,

    /// Place the box relative to this text on the page (e.g. the printed name)
    #[arg(long, value_name = "TEXT")]
    pub anchor: Option<String>,

    /// Where the box goes relative to the anchor text
    #[arg(long, value_enum, default_value_t = AnchorPlaceArg::Above, requires = "anchor")]
    pub anchor_place: AnchorPlaceArg,

    /// Shift from the anchored position in mm, right and down: DX,DY
    #[arg(
        long,
        allow_hyphen_values = true,
        value_name = "DX,DY",
        requires = "anchor"
    )]
    pub anchor_offset_mm: Option<Numbers<2>>,

    /// The box size in mm for anchored or default placement: W,H
    #[arg(long, value_name = "W,H")]
    pub size_mm: Option<Numbers<2>>,

    /// The handwritten-signature PNG (transparent background)
    #[arg(long, value_name = "PNG")]
    pub image: Option<PathBuf>,

    /// The organization's seal PNG (transparent background)
    #[arg(long, value_name = "PNG")]
    pub seal: Option<PathBuf>,

    /// The seal's real diameter in mm [default: from the PNG's DPI, else 36]
    #[arg(long, value_name = "MM")]
    pub seal_mm: Option<f32>,

    /// The organization's name shown by issued, appendix and copy
    #[arg(long, value_name = "NAME")]
    pub org_name: Option<String>,

    /// The document's number and symbol, e.g. "123/QĐ-UBND"
    #[arg(long, value_name = "NUMBER")]
    pub doc_number: Option<String>,

    /// The copy notation of the copy profile [default: SAO Y]
    #[arg(long, value_name = "TEXT")]
    pub copy_notation: Option<String>,
}

/// `--profile`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProfileArg {
    /// The signer's signature image.
    Approved,
    /// The organization's seal over the signer's image.
    Issued,
    /// A text stamp on a separate attachment.
    Appendix,
    /// An electronic copy (sao y) stamp.
    Copy,
    /// An invisible signature, whatever the config says.
    None,
}

/// `--anchor-place`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum AnchorPlaceArg {
    /// Centred above the text.
    #[default]
    Above,
    /// Centred on the text.
    Over,
    /// Centred below the text.
    Below,
}

impl AppearanceArgs {
    /// The request, or `None` for an invisible signature. `cert_serial` picks
    /// the per-certificate default profile from the config.
    pub fn request(
        &self,
        defaults: &AppearanceDefaults,
        cert_serial: &str,
    ) -> Option<AppearanceRequest> {
        let profile = match self.profile {
            Some(ProfileArg::None) => return None,
            Some(ProfileArg::Approved) => Profile::Approved,
            Some(ProfileArg::Issued) => Profile::Issued,
            Some(ProfileArg::Appendix) => Profile::Appendix,
            Some(ProfileArg::Copy) => Profile::Copy,
            None => defaults.profile_for(cert_serial)?,
        };
        let mut r = AppearanceRequest::new(profile);
        r.page = self.page;
        r.rect = self.rect.map(|n| n.0);
        r.rect_mm = self.rect_mm.map(|n| n.0);
        r.size_mm = self.size_mm.map(|n| n.0);
        r.anchor = self.anchor.clone().map(|text| Anchor {
            text,
            place: match self.anchor_place {
                AnchorPlaceArg::Above => AnchorPlace::Above,
                AnchorPlaceArg::Over => AnchorPlace::Over,
                AnchorPlaceArg::Below => AnchorPlace::Below,
            },
            offset_mm: self.anchor_offset_mm.map(|n| n.0).unwrap_or_default(),
        });
        r.signature_image = self.image.clone().map(ImageSource::Path);
        r.seal_image = self.seal.clone().map(ImageSource::Path);
        r.seal_mm = self.seal_mm;
        r.organization = self.org_name.clone();
        r.doc_number = self.doc_number.clone();
        r.copy_notation = self.copy_notation.clone();
        Some(r.with_defaults(defaults))
    }
}

/// `N` comma-separated numbers, such as `10,20,50,22`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Numbers<const N: usize>(pub [f32; N]);

impl<const N: usize> std::str::FromStr for Numbers<N> {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let v: Vec<f32> = s
            .split(',')
            .map(|p| p.trim().parse::<f32>().ok().filter(|f| f.is_finite()))
            .collect::<Option<_>>()
            .ok_or_else(|| format!("'{s}' is not {N} comma-separated numbers"))?;
        v.try_into()
            .map(Numbers)
            .map_err(|_| format!("'{s}' is not {N} comma-separated numbers"))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct T {
        #[command(flatten)]
        a: AppearanceArgs,
    }

    #[test]
    fn flags_become_a_request() {
        let t = T::parse_from([
            "t",
            "--profile",
            "issued",
            "--page",
            "-1",
            "--rect-mm",
            "10,20,50,22",
            "--seal",
            "s.png",
            "--org-name",
            "UBND tỉnh Bắc Kạn",
        ]);
        let r = t.a.request(&AppearanceDefaults::default(), "01").unwrap();
        assert_eq!(r.profile, Profile::Issued);
        assert_eq!(r.page, Some(-1));
        assert_eq!(r.rect_mm, Some([10.0, 20.0, 50.0, 22.0]));
        assert_eq!(r.seal_image, Some(ImageSource::Path("s.png".into())));
    }

    #[test]
    fn config_profile_applies_unless_none() {
        let d = AppearanceDefaults {
            profile: Some(Profile::Approved),
            ..Default::default()
        };
        assert_eq!(
            T::parse_from(["t"]).a.request(&d, "01").unwrap().profile,
            Profile::Approved
        );
        assert!(T::parse_from(["t", "--profile", "none"])
            .a
            .request(&d, "01")
            .is_none());
        assert!(T::parse_from(["t"])
            .a
            .request(&AppearanceDefaults::default(), "01")
            .is_none());
        assert!(T::try_parse_from(["t", "--rect", "1,2,3,4", "--anchor", "x"]).is_err());
    }
}
