//! TSIG (RFC 8945) around hickory's signer: which configured key signed a request, and the
//! signatures of a response stream.
//!
//! hickory signs a single response ([`TSigResponseContext`]) and verifies a chain of them
//! ([`TSigVerifier`]), but cannot sign the second and later messages of a zone transfer,
//! whose MAC covers the previous MAC, the message and only the timers (RFC 8945 §5.3.1).
//! [`ResponseChain`] builds those bytes and lets hickory's HMAC sign them.

use hickory_proto::ProtoError;
use hickory_proto::op::Message;
use hickory_proto::rr::rdata::tsig::{TSIG, TsigError, make_tsig_record};
use hickory_proto::rr::{Name, TSigResponseContext, TSigner};

use crate::config::exchange::TsigKeyConfig;

/// Clock skew tolerated between the parties, the RFC's recommended 300 s.
const FUDGE: u16 = 300;

/// The configured keys.
#[derive(Clone, Default)]
pub struct Keyring(Vec<TSigner>);

impl Keyring {
    pub fn new(keys: &[TsigKeyConfig]) -> Keyring {
        Keyring(
            keys.iter()
                .filter_map(|k| {
                    TSigner::new(
                        k.secret.0.clone(),
                        k.algorithm.clone(),
                        k.name.clone(),
                        FUDGE,
                    )
                    .map_err(|e| tracing::error!(key = %k.name, error = %e, "unusable TSIG key"))
                    .ok()
                })
                .collect(),
        )
    }

    pub fn get(&self, name: &Name) -> Option<&TSigner> {
        self.0.iter().find(|s| s.signer_name() == name)
    }

    /// Who signed `request` (whose wire bytes are `bytes`), checked against the keys and
    /// `now` (Unix seconds).
    pub fn verify(&self, bytes: &[u8], request: &Message, now: u64) -> Auth {
        let Some(sig) = request.signature() else {
            return Auth::Unsigned;
        };
        let id = request.metadata.id;
        let Some(signer) = self.get(&sig.name) else {
            return Auth::failed(TSigResponseContext::unknown_key(id, now, sig.name.clone()));
        };
        match signer.verify_message_byte(bytes, None, true) {
            Err(_) => Auth::failed(TSigResponseContext::bad_signature(id, now, signer.clone())),
            // Our own fudge, not the request's: a signer may not widen its replay window.
            Ok((mac, time, _)) if time.abs_diff(now) > u64::from(FUDGE) => Auth::failed(
                TSigResponseContext::new(id, now, signer.clone(), mac, Some(TsigError::BadTime)),
            ),
            Ok((mac, _, _)) => Auth::Signed(ResponseChain {
                signer: signer.clone(),
                previous_mac: mac,
                time: now,
                first: true,
            }),
        }
    }
}

/// What a request's TSIG proved.
pub enum Auth {
    Unsigned,
    /// A configured key signed it; its responses are signed with the chain.
    Signed(ResponseChain),
    /// Unknown key, bad MAC or time: answered NOTAUTH with this (unsigned, or for a bad
    /// time signed) TSIG, once.
    Failed(Option<TSigResponseContext>),
}

impl Auth {
    fn failed(context: TSigResponseContext) -> Auth {
        Auth::Failed(Some(context))
    }

    /// The key that signed, if one did.
    pub fn key(&self) -> Option<&Name> {
        match self {
            Auth::Signed(chain) => Some(chain.signer.signer_name()),
            _ => None,
        }
    }
}

/// Signs the messages of one response stream in order.
pub struct ResponseChain {
    signer: TSigner,
    previous_mac: Vec<u8>,
    time: u64,
    first: bool,
}

impl ResponseChain {
    /// `message` encoded with its TSIG.
    pub fn sign(&mut self, message: &mut Message) -> Result<Vec<u8>, ProtoError> {
        let unsigned = message.to_vec()?;
        let id = message.metadata.id;
        let record = if self.first {
            TSigResponseContext::new(
                id,
                self.time,
                self.signer.clone(),
                self.previous_mac.clone(),
                None,
            )
            .sign(&unsigned)?
        } else {
            let mut tbs = Vec::with_capacity(unsigned.len() + self.previous_mac.len() + 10);
            tbs.extend_from_slice(&(self.previous_mac.len() as u16).to_be_bytes());
            tbs.extend_from_slice(&self.previous_mac);
            tbs.extend_from_slice(&unsigned);
            tbs.extend_from_slice(&self.time.to_be_bytes()[2..]);
            tbs.extend_from_slice(&FUDGE.to_be_bytes());
            let mac = self
                .signer
                .sign(&tbs)
                .map_err(|e| ProtoError::from(e.to_string()))?;
            let tsig = TSIG::new(
                self.signer.algorithm().clone(),
                self.time,
                FUDGE,
                mac,
                id,
                None,
                Vec::new(),
            );
            Box::new(make_tsig_record(self.signer.signer_name().clone(), tsig))
        };
        self.first = false;
        self.previous_mac = record.data.mac.clone();
        message.set_signature(record);
        message.to_vec()
    }
}

/// Encodes `message`, signed by `auth` when the request was signed (or carrying the error
/// TSIG of a failed one).
pub fn encode(message: &mut Message, auth: &mut Auth) -> Result<Vec<u8>, ProtoError> {
    match auth {
        Auth::Unsigned => message.to_vec(),
        Auth::Signed(chain) => chain.sign(message),
        Auth::Failed(context) => {
            let unsigned = message.to_vec()?;
            if let Some(context) = context.take() {
                message.set_signature(context.sign(&unsigned)?);
            }
            message.to_vec()
        }
    }
}

/// Signs a request we send (a transfer or a NOTIFY) with `signer`, if any; the verifier
/// checks the responses.
pub fn sign_request(
    message: &mut Message,
    signer: Option<&TSigner>,
    now: u64,
) -> Result<Option<hickory_proto::rr::TSigVerifier>, ProtoError> {
    match signer {
        Some(s) => message.finalize(s, now),
        None => Ok(None),
    }
}
