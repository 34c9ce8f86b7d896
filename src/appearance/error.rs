//! Why a visible signature could not be drawn.

use std::path::PathBuf;

use crate::describe::Describe;
use crate::pdf;

/// Why an appearance could not be built. Nothing is written when this
/// happens: the appearance is built before the signed file is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading the page, the fields or the page's text failed.
    #[error(transparent)]
    Pdf(#[from] pdf::Error),
    /// The profile needs an image that neither the request nor the config gives.
    #[error("the {0} image is needed but was not given")]
    MissingImage(ImageRole),
    /// The profile needs a text (organization name, document number).
    #[error("the {0} is needed but was not given")]
    MissingText(&'static str),
    /// An image file could not be read.
    #[error("cannot read {path}: {source}")]
    ImageFile {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The image is not a PNG Kyso can use.
    #[error("the {role} image is not a usable PNG: {why}")]
    ImageDecode {
        /// Which image.
        role: ImageRole,
        /// The decoder's reason.
        why: String,
    },
    /// The font lacks a character of the text.
    #[error("the font has no glyph for {0:?}")]
    MissingGlyph(char),
    /// The font file could not be read or subset.
    #[error("font: {0}")]
    Font(String),
    /// `issued` needs an earlier visible signature to place the seal on.
    #[error("no earlier visible signature to place the seal on")]
    NoEarlierSignature,
    /// The anchor text is not on the page(s) searched.
    #[error("the anchor text {0:?} was not found")]
    AnchorNotFound(String),
    /// The requested position is unusable (empty, or off the page).
    #[error("bad position: {0}")]
    BadPosition(String),
}

/// Which of the two pictures an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageRole {
    /// The signer's handwritten signature.
    Signature,
    /// The organization's seal.
    Seal,
}

impl std::fmt::Display for ImageRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ImageRole::Signature => "signature",
            ImageRole::Seal => "seal",
        })
    }
}

impl ImageRole {
    fn vi(self) -> &'static str {
        match self {
            ImageRole::Signature => "ảnh chữ ký",
            ImageRole::Seal => "ảnh con dấu",
        }
    }
}

impl Describe for Error {
    fn code(&self) -> &'static str {
        match self {
            Error::Pdf(e) => e.code(),
            Error::MissingImage(_) => "APPEARANCE_MISSING_IMAGE",
            Error::MissingText(_) => "APPEARANCE_MISSING_TEXT",
            Error::ImageFile { .. } => "APPEARANCE_IMAGE_FILE",
            Error::ImageDecode { .. } => "APPEARANCE_IMAGE_INVALID",
            Error::MissingGlyph(_) => "APPEARANCE_FONT_MISSING_GLYPH",
            Error::Font(_) => "APPEARANCE_FONT",
            Error::NoEarlierSignature => "APPEARANCE_NO_EARLIER_SIGNATURE",
            Error::AnchorNotFound(_) => "APPEARANCE_ANCHOR_NOT_FOUND",
            Error::BadPosition(_) => "APPEARANCE_BAD_POSITION",
        }
    }

    fn en(&self) -> String {
        match self {
            Error::Pdf(e) => e.en(),
            Error::MissingImage(role) => {
                let flag = if *role == ImageRole::Signature { "--image" } else { "--seal" };
                format!(
                    "This profile shows the {role} image, but none is set. \
                     Give it with {flag} or set it in the config file's [appearance] section."
                )
            }
            Error::MissingText(what) => format!("This profile shows the {what}, but none was given."),
            Error::ImageFile { path, source } => format!("Cannot read the image {}: {source}.", path.display()),
            Error::ImageDecode { role, why } => {
                format!("The {role} image must be a PNG file (ideally with a transparent background): {why}.")
            }
            Error::MissingGlyph(c) => {
                format!("The font used for the signature text has no character '{c}' (U+{:04X}).", u32::from(*c))
            }
            Error::Font(why) => format!("The font for the signature text cannot be used: {why}."),
            Error::NoEarlierSignature => "The 'issued' profile puts the seal over the signer's visible signature, \
                 but the document has none. Sign it with --profile approved first, or give the position \
                 with --rect, --rect-mm or --anchor."
                .into(),
            Error::AnchorNotFound(t) => format!("The text \"{t}\" was not found on the page(s) searched."),
            Error::BadPosition(why) => format!("The signature position cannot be used: {why}."),
        }
    }

    fn vi(&self) -> String {
        match self {
            Error::Pdf(e) => e.vi(),
            Error::MissingImage(role) => {
                let flag = if *role == ImageRole::Signature {
                    "--image"
                } else {
                    "--seal"
                };
                format!(
                    "Mẫu chữ ký này cần {}, nhưng chưa được khai báo. \
                     Hãy dùng {flag} hoặc khai báo trong mục [appearance] của tệp cấu hình.",
                    role.vi()
                )
            }
            Error::MissingText(what) => format!(
                "Mẫu chữ ký này cần {}, nhưng chưa được cung cấp.",
                match *what {
                    "organization name" => "tên cơ quan, tổ chức",
                    "document number" => "số và ký hiệu văn bản",
                    other => other,
                }
            ),
            Error::ImageFile { path, source } => {
                format!("Không đọc được tệp ảnh {}: {source}.", path.display())
            }
            Error::ImageDecode { role, why } => {
                format!(
                    "{} phải là tệp PNG (nên có nền trong suốt): {why}.",
                    capitalize(role.vi())
                )
            }
            Error::MissingGlyph(c) => {
                format!(
                    "Phông chữ dùng cho chữ ký không có ký tự '{c}' (U+{:04X}).",
                    u32::from(*c)
                )
            }
            Error::Font(why) => format!("Không dùng được phông chữ cho nội dung chữ ký: {why}."),
            Error::NoEarlierSignature => {
                "Mẫu 'issued' đặt con dấu lên chữ ký hiển thị của người ký, \
                 nhưng văn bản chưa có chữ ký nào như vậy. Hãy ký với --profile approved trước, \
                 hoặc chỉ định vị trí bằng --rect, --rect-mm hoặc --anchor."
                    .into()
            }
            Error::AnchorNotFound(t) => {
                format!("Không tìm thấy đoạn chữ \"{t}\" trên (các) trang đã tìm.")
            }
            Error::BadPosition(why) => format!("Vị trí chữ ký không dùng được: {why}."),
        }
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
