use std::path::PathBuf;

use crate::describe::Describe;

/// The PIN state flags a token reports (PKCS#11 `CK_TOKEN_INFO.flags`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PinState {
    /// `CKF_USER_PIN_COUNT_LOW`: at least one wrong PIN since the last success.
    pub count_low: bool,
    /// `CKF_USER_PIN_FINAL_TRY`: one more wrong PIN locks the token.
    pub final_try: bool,
    /// `CKF_USER_PIN_LOCKED`: the token is locked; only the CA can unlock it.
    pub locked: bool,
    /// `CKF_USER_PIN_TO_BE_CHANGED`: the PIN must be changed before use.
    pub to_be_changed: bool,
}

impl PinState {
    /// A warning to show before asking for the PIN, in English and Vietnamese.
    pub fn warning(&self) -> Option<(String, String)> {
        if self.final_try {
            Some((
                "WARNING: one more wrong PIN will lock this token. Only the CA can unlock it.".into(),
                "CẢNH BÁO: nhập sai PIN thêm một lần nữa sẽ khoá thiết bị ký. Chỉ tổ chức cung cấp dịch vụ mới mở khoá được."
                    .into(),
            ))
        } else if self.count_low {
            Some((
                "A wrong PIN was entered recently; the token locks after a few wrong tries.".into(),
                "Gần đây đã có lần nhập sai PIN; thiết bị ký sẽ bị khoá sau vài lần nhập sai."
                    .into(),
            ))
        } else {
            None
        }
    }
}

/// Why the token could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No module was given and none of the known paths exists.
    #[error("no PKCS#11 module found (searched {})", .0.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    NoModule(Vec<PathBuf>),
    /// The module could not be loaded or initialised.
    #[error("cannot load PKCS#11 module {path}: {reason}")]
    ModuleLoad {
        /// The module path.
        path: PathBuf,
        /// What the loader said.
        reason: String,
    },
    /// No slot holds a token.
    #[error("no token is plugged in")]
    NoToken,
    /// No token matches the selector.
    #[error("no token matches '{selector}' (available: {available})")]
    TokenNotFound {
        /// What the user asked for.
        selector: String,
        /// The tokens that are present.
        available: String,
    },
    /// Several tokens are present and none was selected.
    #[error("several tokens are plugged in ({0}); choose one with --token")]
    AmbiguousToken(String),
    /// The token holds no signing certificate.
    #[error("the token holds no signing certificate")]
    NoCertificate,
    /// No certificate matches the selector.
    #[error("no certificate matches '{0}'")]
    CertNotFound(String),
    /// Several certificates match.
    #[error("several certificates match; choose one with --cert ({0})")]
    AmbiguousCert(String),
    /// The certificate has no private key with the same CKA_ID.
    #[error("no private key on the token pairs with the certificate (CKA_ID {0})")]
    NoPrivateKey(String),
    /// The PIN was wrong. Never retried automatically.
    #[error("wrong PIN")]
    PinIncorrect(PinState),
    /// The PIN is locked; no login was attempted.
    #[error("the token's PIN is locked")]
    PinLocked,
    /// The PIN has expired or must be changed first.
    #[error("the PIN has expired and must be changed")]
    PinExpired,
    /// The user gave no PIN.
    #[error("no PIN was entered")]
    PinCancelled,
    /// The token refused the new PIN (length or characters).
    #[error("the token refused the new PIN")]
    PinRejected,
    /// The token was removed during the operation.
    #[error("the token was removed")]
    Removed,
    /// The token cannot perform the signature scheme.
    #[error("the token does not support {0}")]
    Mechanism(String),
    /// Any other PKCS#11 failure.
    #[error("PKCS#11 error: {0}")]
    Pkcs11(String),
}

impl Describe for Error {
    fn code(&self) -> &'static str {
        match self {
            Error::NoModule(_) => "TOKEN_NO_MODULE",
            Error::ModuleLoad { .. } => "TOKEN_MODULE_LOAD",
            Error::NoToken => "TOKEN_NOT_PRESENT",
            Error::TokenNotFound { .. } => "TOKEN_NOT_FOUND",
            Error::AmbiguousToken(_) => "TOKEN_AMBIGUOUS",
            Error::NoCertificate => "CERT_NONE",
            Error::CertNotFound(_) => "CERT_NOT_FOUND",
            Error::AmbiguousCert(_) => "CERT_AMBIGUOUS",
            Error::NoPrivateKey(_) => "CERT_NO_KEY",
            Error::PinIncorrect(_) => "PIN_INCORRECT",
            Error::PinLocked => "PIN_LOCKED",
            Error::PinExpired => "PIN_EXPIRED",
            Error::PinCancelled => "PIN_CANCELLED",
            Error::PinRejected => "PIN_REJECTED",
            Error::Removed => "TOKEN_REMOVED",
            Error::Mechanism(_) => "TOKEN_MECHANISM",
            Error::Pkcs11(_) => "TOKEN_ERROR",
        }
    }

    fn en(&self) -> String {
        match self {
            Error::NoModule(_) => "No token driver (PKCS#11 module) was found. Install the token's driver, \
                 or give its path with --module or KYSO_PKCS11_MODULE."
                .into(),
            Error::ModuleLoad { path, reason } => {
                format!("The token driver {} could not be loaded: {reason}.", path.display())
            }
            Error::NoToken => "No signing token is plugged in. Plug in the USB token and try again.".into(),
            Error::TokenNotFound { selector, available } => {
                format!("No plugged-in token matches \"{selector}\". Tokens present: {available}.")
            }
            Error::AmbiguousToken(list) => {
                format!("Several tokens are plugged in ({list}). Choose one with --token LABEL or SERIAL.")
            }
            Error::NoCertificate => "The token holds no signing certificate.".into(),
            Error::CertNotFound(sel) => format!("No certificate on the token matches \"{sel}\"."),
            Error::AmbiguousCert(list) => format!(
                "The token holds several signing certificates ({list}). Choose one with --cert SERIAL, ID or name."
            ),
            Error::NoPrivateKey(id) => format!("The token has no private key for this certificate (CKA_ID {id})."),
            Error::PinIncorrect(state) => {
                let mut s = String::from("Wrong PIN. Kyso did not retry it.");
                if state.locked {
                    s.push_str(" The token is now LOCKED; contact your certificate provider.");
                } else if state.final_try {
                    s.push_str(" One more wrong PIN will lock the token.");
                } else if state.count_low {
                    s.push_str(" The token locks after a few wrong tries.");
                }
                s
            }
            Error::PinLocked => "The token's PIN is locked after too many wrong tries. No login was attempted. \
                 Contact your certificate provider to unlock it."
                .into(),
            Error::PinExpired => "The token's PIN has expired. Change it with `kyso pin change`.".into(),
            Error::PinCancelled => "No PIN was entered; nothing was signed.".into(),
            Error::PinRejected => {
                "The token refused the new PIN (its length or characters are not allowed). The PIN was not changed."
                    .into()
            }
            Error::Removed => {
                "The token was removed during signing. Nothing was written; plug it back in and try again.".into()
            }
            Error::Mechanism(m) => format!("The token cannot make {m} signatures."),
            Error::Pkcs11(e) => format!("The token reported an error: {e}."),
        }
    }

    fn vi(&self) -> String {
        match self {
            Error::NoModule(_) => "Không tìm thấy trình điều khiển thiết bị ký (PKCS#11). Hãy cài trình điều khiển \
                 của thiết bị ký, hoặc chỉ đường dẫn bằng --module hoặc KYSO_PKCS11_MODULE."
                .into(),
            Error::ModuleLoad { path, reason } => {
                format!("Không nạp được trình điều khiển thiết bị ký {}: {reason}.", path.display())
            }
            Error::NoToken => "Chưa cắm thiết bị ký số (USB token). Hãy cắm thiết bị rồi thử lại.".into(),
            Error::TokenNotFound { selector, available } => {
                format!("Không có thiết bị ký nào khớp với \"{selector}\". Các thiết bị đang cắm: {available}.")
            }
            Error::AmbiguousToken(list) => {
                format!("Đang cắm nhiều thiết bị ký ({list}). Hãy chọn một bằng --token NHÃN hoặc SỐ-SERIAL.")
            }
            Error::NoCertificate => "Thiết bị ký không chứa chứng thư số dùng để ký.".into(),
            Error::CertNotFound(sel) => format!("Không có chứng thư số nào trên thiết bị khớp với \"{sel}\"."),
            Error::AmbiguousCert(list) => format!(
                "Thiết bị ký chứa nhiều chứng thư số ({list}). Hãy chọn một bằng --cert SỐ-SERIAL, ID hoặc tên."
            ),
            Error::NoPrivateKey(id) => {
                format!("Thiết bị ký không có khoá bí mật cho chứng thư số này (CKA_ID {id}).")
            }
            Error::PinIncorrect(state) => {
                let mut s = String::from("Sai mã PIN. Kyso không tự thử lại.");
                if state.locked {
                    s.push_str(" Thiết bị ký đã BỊ KHOÁ; hãy liên hệ tổ chức cung cấp dịch vụ chứng thực.");
                } else if state.final_try {
                    s.push_str(" Nhập sai thêm một lần nữa thiết bị ký sẽ bị khoá.");
                } else if state.count_low {
                    s.push_str(" Thiết bị ký sẽ bị khoá sau vài lần nhập sai.");
                }
                s
            }
            Error::PinLocked => "Mã PIN của thiết bị ký đã bị khoá do nhập sai quá nhiều lần. Kyso không thử đăng nhập. \
                 Hãy liên hệ tổ chức cung cấp dịch vụ chứng thực để mở khoá."
                .into(),
            Error::PinExpired => "Mã PIN của thiết bị ký đã hết hạn. Hãy đổi PIN bằng `kyso pin change`.".into(),
            Error::PinCancelled => "Chưa nhập mã PIN; không có văn bản nào được ký.".into(),
            Error::PinRejected => {
                "Thiết bị ký không chấp nhận mã PIN mới (độ dài hoặc ký tự không hợp lệ). Mã PIN chưa được đổi."
                    .into()
            }
            Error::Removed => "Thiết bị ký đã bị rút ra trong khi ký. Không có tệp nào được ghi; \
                 hãy cắm lại thiết bị và thử lại."
                .into(),
            Error::Mechanism(m) => format!("Thiết bị ký không hỗ trợ chữ ký {m}."),
            Error::Pkcs11(e) => format!("Thiết bị ký báo lỗi: {e}."),
        }
    }
}
