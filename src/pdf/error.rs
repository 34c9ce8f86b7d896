use crate::describe::Describe;

/// Why a PDF could not be prepared for signing.
///
/// The variants that describe the *input* (`NotPdf`, `Truncated`, `BrokenXref`,
/// `Encrypted`, `CertifiedNoChanges`, `Unsupported`) are refusals: the file is
/// left alone and nothing is written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file does not start with a `%PDF-` header.
    #[error("not a PDF file (no %PDF- header)")]
    NotPdf,
    /// The end of the file (`startxref`, `%%EOF`) is missing.
    #[error("the PDF is truncated: {0}")]
    Truncated(&'static str),
    /// The cross-reference data does not match the file; only a rebuild by
    /// scanning could read it, and signing a rebuilt file would change it.
    #[error("the cross-reference table is broken: {0}")]
    BrokenXref(String),
    /// The trailer has an `/Encrypt` entry.
    #[error("the PDF is encrypted")]
    Encrypted,
    /// The document carries a certification signature with DocMDP P=1.
    #[error("the document is certified with DocMDP P=1 (no changes allowed)")]
    CertifiedNoChanges,
    /// A structure Kyso does not handle (for example a page tree with no pages).
    #[error("unsupported PDF structure: {0}")]
    Unsupported(String),
    /// The signature container turned out larger than the space reserved.
    #[error("the signature ({needed} bytes) does not fit the reserved space ({reserved} bytes)")]
    ContentsTooSmall { needed: usize, reserved: usize },
    /// Reading the input or writing the output failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl Describe for Error {
    fn code(&self) -> &'static str {
        match self {
            Error::NotPdf => "PDF_NOT_PDF",
            Error::Truncated(_) => "PDF_TRUNCATED",
            Error::BrokenXref(_) => "PDF_BROKEN_XREF",
            Error::Encrypted => "PDF_ENCRYPTED",
            Error::CertifiedNoChanges => "PDF_CERTIFIED_NO_CHANGES",
            Error::Unsupported(_) => "PDF_UNSUPPORTED",
            Error::ContentsTooSmall { .. } => "INTERNAL_SIGNATURE_TOO_LARGE",
            Error::Io(_) => "IO_ERROR",
        }
    }

    fn en(&self) -> String {
        match self {
            Error::NotPdf => "The file is not a PDF document.".into(),
            Error::Truncated(_) => {
                "The PDF file is incomplete (its end is missing). Download or copy it again.".into()
            }
            Error::BrokenXref(_) => {
                "The PDF file is damaged (its cross-reference table is broken). \
                 Re-save it from the program that created it, then sign again."
                    .into()
            }
            Error::Encrypted => "The PDF is encrypted or password-protected. \
                 Remove the protection before signing."
                .into(),
            Error::CertifiedNoChanges => {
                "The document is certified and its author allowed no further changes, \
                 so no signature can be added."
                    .into()
            }
            Error::Unsupported(what) => {
                format!("This PDF uses a structure Kyso cannot sign: {what}.")
            }
            Error::ContentsTooSmall { .. } => {
                "Internal error: the signature did not fit the space reserved for it.".into()
            }
            Error::Io(e) => format!("Could not read or write the file: {e}."),
        }
    }

    fn vi(&self) -> String {
        match self {
            Error::NotPdf => "Tệp không phải là văn bản PDF.".into(),
            Error::Truncated(_) => {
                "Tệp PDF không đầy đủ (thiếu phần cuối tệp). Hãy tải hoặc sao chép lại tệp.".into()
            }
            Error::BrokenXref(_) => "Tệp PDF bị hỏng (bảng tham chiếu chéo bị lỗi). \
                 Hãy lưu lại tệp từ phần mềm đã tạo ra nó rồi ký lại."
                .into(),
            Error::Encrypted => "Tệp PDF được mã hoá hoặc đặt mật khẩu. \
                 Hãy gỡ bảo vệ trước khi ký."
                .into(),
            Error::CertifiedNoChanges => {
                "Văn bản đã được chứng nhận và tác giả không cho phép thay đổi thêm, \
                 nên không thể thêm chữ ký."
                    .into()
            }
            Error::Unsupported(what) => {
                format!("Tệp PDF có cấu trúc mà Kyso không ký được: {what}.")
            }
            Error::ContentsTooSmall { .. } => {
                "Lỗi nội bộ: chữ ký lớn hơn vùng dành sẵn cho nó.".into()
            }
            Error::Io(e) => format!("Không đọc hoặc ghi được tệp: {e}."),
        }
    }
}
