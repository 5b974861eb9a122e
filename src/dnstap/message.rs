//! The dnstap protobuf schema (dnstap.proto, CC0), the part a resolver's client side fills
//! in: `Dnstap` wrapping one `Message` of type CLIENT_QUERY or CLIENT_RESPONSE, with the
//! policy that decided it. Field numbers are the schema's; prost encodes them.

/// The top-level dnstap payload.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Dnstap {
    #[prost(bytes = "vec", optional, tag = "1")]
    pub identity: Option<Vec<u8>>,
    #[prost(bytes = "vec", optional, tag = "2")]
    pub version: Option<Vec<u8>>,
    #[prost(bytes = "vec", optional, tag = "3")]
    pub extra: Option<Vec<u8>>,
    #[prost(message, optional, tag = "14")]
    pub message: Option<Message>,
    /// Always [`DNSTAP_MESSAGE`].
    #[prost(int32, required, tag = "15")]
    pub r#type: i32,
}

/// `Dnstap.Type.MESSAGE`, the only payload type.
pub const DNSTAP_MESSAGE: i32 = 1;

/// One DNS message seen by the server, with its metadata.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Message {
    #[prost(int32, required, tag = "1")]
    pub r#type: i32,
    #[prost(int32, optional, tag = "2")]
    pub socket_family: Option<i32>,
    #[prost(int32, optional, tag = "3")]
    pub socket_protocol: Option<i32>,
    #[prost(bytes = "vec", optional, tag = "4")]
    pub query_address: Option<Vec<u8>>,
    #[prost(bytes = "vec", optional, tag = "5")]
    pub response_address: Option<Vec<u8>>,
    #[prost(uint32, optional, tag = "6")]
    pub query_port: Option<u32>,
    #[prost(uint32, optional, tag = "7")]
    pub response_port: Option<u32>,
    #[prost(uint64, optional, tag = "8")]
    pub query_time_sec: Option<u64>,
    #[prost(fixed32, optional, tag = "9")]
    pub query_time_nsec: Option<u32>,
    #[prost(bytes = "vec", optional, tag = "10")]
    pub query_message: Option<Vec<u8>>,
    #[prost(uint64, optional, tag = "12")]
    pub response_time_sec: Option<u64>,
    #[prost(fixed32, optional, tag = "13")]
    pub response_time_nsec: Option<u32>,
    #[prost(bytes = "vec", optional, tag = "14")]
    pub response_message: Option<Vec<u8>>,
    #[prost(message, optional, tag = "15")]
    pub policy: Option<Policy>,
}

/// `Message.Type` values we send.
pub const CLIENT_QUERY: i32 = 5;
pub const CLIENT_RESPONSE: i32 = 6;
/// `SocketFamily`.
pub const INET: i32 = 1;
pub const INET6: i32 = 2;
/// `SocketProtocol`.
pub const UDP: i32 = 1;
pub const TCP: i32 = 2;
pub const DOT: i32 = 3;
pub const DOH: i32 = 4;

/// The operator policy applied to a message: for us, the profile's decision.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Policy {
    /// "familydns".
    #[prost(string, optional, tag = "1")]
    pub r#type: Option<String>,
    /// What matched, in words: `blocked: category adult`.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub rule: Option<Vec<u8>>,
    #[prost(int32, optional, tag = "3")]
    pub action: Option<i32>,
    /// Always QNAME: every familydns rule is about the name asked.
    #[prost(int32, optional, tag = "4")]
    pub r#match: Option<i32>,
    /// The name asked, in wire format.
    #[prost(bytes = "vec", optional, tag = "5")]
    pub value: Option<Vec<u8>>,
}

/// `Policy.Match.QNAME`.
pub const MATCH_QNAME: i32 = 1;

/// `Policy.Action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Nxdomain = 1,
    Nodata = 2,
    Pass = 3,
    Drop = 4,
    Truncate = 5,
    LocalData = 6,
}
