//! The API's errors: the one place where a failure becomes an HTTP status and
//! a JSON body `{"error": {"code", "message", "message_vi"}}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::signing::worker::Problem;

/// An error answered to an API caller.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    problem: Problem,
    retry_after: Option<u32>,
}

impl ApiError {
    fn new(status: StatusCode, code: &str, en: &str, vi: &str) -> Self {
        ApiError {
            status,
            problem: Problem {
                code: code.into(),
                en: en.into(),
                vi: vi.into(),
            },
            retry_after: None,
        }
    }

    /// The stable code.
    pub fn code(&self) -> &str {
        &self.problem.code
    }

    /// A failure from the signing engine or token. The status follows the code.
    pub fn from_problem(problem: Problem) -> Self {
        let c = problem.code.as_str();
        let status = if c.starts_with("PDF_") {
            StatusCode::UNPROCESSABLE_ENTITY
        } else if c.starts_with("PIN_") || c.starts_with("CONSENT_") {
            StatusCode::FORBIDDEN
        } else if c.starts_with("TOKEN_") || c.starts_with("CERT_") {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        ApiError {
            status,
            problem,
            retry_after: None,
        }
    }

    pub(crate) fn host_not_allowed() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "HOST_NOT_ALLOWED",
            "The Host header must name this computer's loopback address and Kyso's port.",
            "Tiêu đề Host phải là địa chỉ loopback của máy này và cổng của Kyso.",
        )
    }

    pub(crate) fn origin_not_paired() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "ORIGIN_NOT_PAIRED",
            "This website is not paired with Kyso. Pair it first; the user must approve it in the Kyso window.",
            "Trang web này chưa được kết nối với Kyso. Hãy kết nối trước; người dùng phải đồng ý trong cửa sổ Kyso.",
        )
    }

    pub(crate) fn origin_required() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "ORIGIN_NOT_ALLOWED",
            "This request's origin is not allowed here.",
            "Nguồn gốc của yêu cầu này không được phép.",
        )
    }

    pub(crate) fn header_missing() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "HEADER_MISSING",
            "API requests must carry the header X-Kyso-Request: 1.",
            "Yêu cầu API phải có tiêu đề X-Kyso-Request: 1.",
        )
    }

    pub(crate) fn content_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "CONTENT_TYPE_NOT_ALLOWED",
            "The body must be application/pdf or application/json.",
            "Nội dung gửi lên phải có kiểu application/pdf hoặc application/json.",
        )
    }

    pub(crate) fn body_too_large(limit_mb: u64) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "BODY_TOO_LARGE",
            &format!("The document is larger than the {limit_mb} MB limit."),
            &format!("Văn bản lớn hơn giới hạn {limit_mb} MB."),
        )
    }

    pub(crate) fn body_incomplete() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "BODY_INCOMPLETE",
            "The upload was interrupted before the whole document arrived.",
            "Quá trình tải lên bị gián đoạn trước khi nhận đủ văn bản.",
        )
    }

    pub(crate) fn bad_request(en: &str, vi: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", en, vi)
    }

    pub(crate) fn unknown_job() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "JOB_NOT_FOUND",
            "No such signing job.",
            "Không có yêu cầu ký này.",
        )
    }

    pub(crate) fn log_forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "LOG_FORBIDDEN",
            "The usage log is readable only by programs of the local user, never by web pages.",
            "Nhật ký sử dụng chỉ được đọc bởi chương trình của người dùng trên máy này, không bao giờ bởi trang web.",
        )
    }

    pub(crate) fn log_unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "LOG_UNAUTHORIZED",
            "Reading the usage log needs the secret from Kyso's api-secret file (Authorization: Bearer …).",
            "Đọc nhật ký sử dụng cần mã bí mật trong tệp api-secret của Kyso (Authorization: Bearer …).",
        )
    }

    pub(crate) fn local_image() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "APPEARANCE_LOCAL_FILE",
            "A web page must send signature and seal images as png_base64, not as file paths.",
            "Trang web phải gửi ảnh chữ ký và con dấu dạng png_base64, không phải đường dẫn tệp.",
        )
    }

    pub(crate) fn unknown_document() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "DOCUMENT_NOT_FOUND",
            "The job has no document at that position.",
            "Yêu cầu ký không có văn bản ở vị trí này.",
        )
    }

    pub(crate) fn unknown_pairing() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "PAIRING_NOT_FOUND",
            "No such pairing request.",
            "Không có yêu cầu kết nối này.",
        )
    }

    pub(crate) fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "Not found.",
            "Không tìm thấy.",
        )
    }

    pub(crate) fn job_not_ready() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "JOB_NOT_DONE",
            "The job has not finished signing.",
            "Yêu cầu ký chưa hoàn tất.",
        )
    }

    pub(crate) fn job_running() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "JOB_RUNNING",
            "The job is being signed on the token and cannot be cancelled now.",
            "Yêu cầu đang được ký trên thiết bị và không thể huỷ lúc này.",
        )
    }

    pub(crate) fn queue_full(retry_after: u32) -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "QUEUE_FULL",
            "Kyso is busy with other signing requests. Try again shortly.",
            "Kyso đang xử lý các yêu cầu ký khác. Hãy thử lại sau ít phút.",
        );
        e.retry_after = Some(retry_after);
        e
    }

    pub(crate) fn too_many_pairings() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "PAIRING_BUSY",
            "Too many pairing requests are waiting for the user.",
            "Có quá nhiều yêu cầu kết nối đang chờ người dùng.",
        )
    }

    pub(crate) fn internal(what: &str) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            &format!("Internal error: {what}."),
            &format!("Lỗi nội bộ: {what}."),
        )
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({
            "error": {
                "code": self.problem.code,
                "message": self.problem.en,
                "message_vi": self.problem.vi,
            }
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, axum::Json(self.body())).into_response();
        if let Some(s) = self.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    }
}
