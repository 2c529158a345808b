//! Where the local stack's resources live: the account and region every
//! name, ARN and signed call carries locally. A leaf, so that any module
//! may name them.

/// The account id resources carry locally (moto's default).
pub const LOCAL_ACCOUNT: &str = "123456789012";
pub const LOCAL_REGION: &str = "us-east-1";
