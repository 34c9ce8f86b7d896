//! What a caller asks for: a plain, serde-deserialisable description of a
//! visible signature, shared by the command line, the config file and the
//! HTTP API.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The four layouts of Decree 30/2020 Appendix I, named as in the
/// government CA's signing tool (SignApproved, SignIssued, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// The person with signing authority: the blue signature image.
    Approved,
    /// The organization: the red seal at real size over the left third of
    /// the signer's image, with the organization's name and the time.
    Issued,
    /// The organization on a separate attachment: text only, top right of
    /// page 1, Times New Roman 10 pt black.
    Appendix,
    /// An electronic copy (sao y): the organization's signature with the copy
    /// notation, top right of page 1.
    Copy,
}

impl Profile {
    /// The name used on the command line, in the config and in the API.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Approved => "approved",
            Profile::Issued => "issued",
            Profile::Appendix => "appendix",
            Profile::Copy => "copy",
        }
    }
}

impl std::str::FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "approved" => Ok(Profile::Approved),
            "issued" => Ok(Profile::Issued),
            "appendix" => Ok(Profile::Appendix),
            "copy" => Ok(Profile::Copy),
            _ => Err(format!(
                "unknown profile '{s}' (use approved, issued, appendix or copy)"
            )),
        }
    }
}

/// Where a picture comes from.
///
/// A daemon must not accept [`ImageSource::Path`] from a web page: that would
/// let the page embed any PNG on the user's disk. See
/// [`AppearanceRequest::names_local_files`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageSource {
    /// A PNG file on this machine.
    Path(PathBuf),
    /// PNG bytes, base64-encoded (standard alphabet, padding optional).
    PngBase64(String),
}

/// Where the box goes relative to an anchor text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnchorPlace {
    /// Centred above the text: the anchor is the printed name under the
    /// signature (Decree 30 puts the signature between title and name).
    #[default]
    Above,
    /// Centred on the text: the anchor is a placeholder to cover.
    Over,
    /// Centred below the text: the anchor is the title above the signature.
    Below,
}

/// Find a string on a page and place the box relative to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Anchor {
    /// The text to find (compared after NFC normalisation, ignoring spaces).
    pub text: String,
    /// Where the box goes relative to the text.
    #[serde(default)]
    pub place: AnchorPlace,
    /// A further shift in mm, rightwards and downwards as the page is seen.
    #[serde(default)]
    pub offset_mm: [f32; 2],
}

/// A visible signature request. Every field is optional except the profile;
/// the defaults follow Decree 30 and [`AppearanceDefaults`] fills in the
/// per-user pictures and names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppearanceRequest {
    /// The layout.
    pub profile: Profile,
    /// The page, 1-based; negative counts from the end (-1 is the last).
    /// Default: the last page for `approved` (or the page of the anchor),
    /// the earlier signature's page for `issued`, page 1 otherwise.
    #[serde(default)]
    pub page: Option<i64>,
    /// The box in PDF points, in the page's default user space
    /// (`[x0, y0, x1, y1]`, origin at the bottom left of the MediaBox).
    #[serde(default)]
    pub rect: Option<[f32; 4]>,
    /// The box in mm from the top-left corner of the page as displayed
    /// (`[x, y, width, height]`), after `/Rotate` and the CropBox.
    #[serde(default)]
    pub rect_mm: Option<[f32; 4]>,
    /// Place the box relative to a text on the page.
    #[serde(default)]
    pub anchor: Option<Anchor>,
    /// The box size in mm for anchored and default placements.
    #[serde(default)]
    pub size_mm: Option<[f32; 2]>,
    /// The signer's handwritten-signature picture (PNG, transparent background).
    #[serde(default)]
    pub signature_image: Option<ImageSource>,
    /// The organization's seal (PNG, transparent background).
    #[serde(default)]
    pub seal_image: Option<ImageSource>,
    /// The seal's real diameter in mm.
    #[serde(default)]
    pub seal_mm: Option<f32>,
    /// The organization's name.
    #[serde(default)]
    pub organization: Option<String>,
    /// The document's number and symbol, e.g. `123/QĐ-UBND`.
    #[serde(default)]
    pub doc_number: Option<String>,
    /// The copy notation of the `copy` profile [default: `SAO Y`].
    #[serde(default)]
    pub copy_notation: Option<String>,
}

impl AppearanceRequest {
    /// A request for `profile` with every option at its default.
    pub fn new(profile: Profile) -> Self {
        AppearanceRequest {
            profile,
            page: None,
            rect: None,
            rect_mm: None,
            anchor: None,
            size_mm: None,
            signature_image: None,
            seal_image: None,
            seal_mm: None,
            organization: None,
            doc_number: None,
            copy_notation: None,
        }
    }

    /// Fills what the request leaves open from the user's settings.
    pub fn with_defaults(mut self, d: &AppearanceDefaults) -> Self {
        if self.signature_image.is_none() {
            self.signature_image = d.signature_image.clone().map(ImageSource::Path);
        }
        // A copy stamp sits at the top of page 1, where a 36 mm seal would
        // cover the national motto; it shows the seal only when asked for.
        if self.seal_image.is_none() && self.profile != Profile::Copy {
            self.seal_image = d.seal_image.clone().map(ImageSource::Path);
        }
        self.seal_mm = self.seal_mm.or(d.seal_mm);
        if self.organization.is_none() {
            self.organization = d.organization.clone();
        }
        self
    }

    /// Whether the request reads files on this machine. A server answering web
    /// pages should refuse such requests and fill pictures from its own
    /// settings with [`AppearanceRequest::with_defaults`] instead.
    pub fn names_local_files(&self) -> bool {
        matches!(self.signature_image, Some(ImageSource::Path(_)))
            || matches!(self.seal_image, Some(ImageSource::Path(_)))
    }
}

/// Per-user appearance settings (the config file's `[appearance]` section).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppearanceDefaults {
    /// The signer's handwritten-signature PNG.
    pub signature_image: Option<PathBuf>,
    /// The organization's seal PNG.
    pub seal_image: Option<PathBuf>,
    /// The seal's real diameter in mm [default: from the PNG's pHYs, else 36].
    pub seal_mm: Option<f32>,
    /// The organization's name.
    pub organization: Option<String>,
    /// The profile used when none is given on the command line.
    pub profile: Option<Profile>,
    /// A default profile per certificate, keyed by the certificate's serial
    /// number in hex (as `kyso certs` prints it); wins over `profile`.
    #[serde(default)]
    pub cert_profiles: BTreeMap<String, Profile>,
}

impl AppearanceDefaults {
    /// The default profile for the certificate with serial `serial_hex`.
    pub fn profile_for(&self, serial_hex: &str) -> Option<Profile> {
        let wanted = normalize_serial(serial_hex);
        self.cert_profiles
            .iter()
            .find(|(k, _)| normalize_serial(k) == wanted)
            .map(|(_, p)| *p)
            .or(self.profile)
    }
}

fn normalize_serial(s: &str) -> String {
    let hex: String = s
        .chars()
        .filter(char::is_ascii_hexdigit)
        .collect::<String>()
        .to_ascii_uppercase();
    hex.trim_start_matches('0').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_json_round_trip() {
        let json = r#"{"profile":"issued","page":-1,"anchor":{"text":"Nguyễn Văn A"},
            "seal_image":{"png_base64":"iVBORw0KGgo="},"organization":"UBND tỉnh Bắc Kạn"}"#;
        let r: AppearanceRequest = serde_json::from_str(json).unwrap();
        assert_eq!(r.profile, Profile::Issued);
        assert_eq!(r.anchor.as_ref().unwrap().place, AnchorPlace::Above);
        assert!(!r.names_local_files());
        assert!(
            serde_json::from_str::<AppearanceRequest>(r#"{"profile":"approved","bogus":1}"#)
                .is_err()
        );
    }

    #[test]
    fn config_defaults_and_cert_profiles() {
        let d: AppearanceDefaults = toml::from_str(
            "seal_image = \"/s.png\"\nprofile = \"approved\"\n[cert_profiles]\n\"00:1A:2b\" = \"issued\"\n",
        )
        .unwrap();
        assert_eq!(d.profile_for("1A2B"), Some(Profile::Issued));
        assert_eq!(d.profile_for("FF"), Some(Profile::Approved));
        let r = AppearanceRequest::new(Profile::Issued).with_defaults(&d);
        assert_eq!(r.seal_image, Some(ImageSource::Path("/s.png".into())));
        assert!(r.names_local_files());
    }
}
