//! Frame Streams, the transport dnstap readers (`fstrm_capture`, Unbound's and BIND's
//! collectors) speak: a data frame is a big-endian u32 length and the payload; a control
//! frame is a zero length (the escape), its own length, its type and its fields. We are the
//! writer of a bidirectional stream: READY, wait for ACCEPT, START, data…, STOP, FINISH.

/// The content type dnstap readers accept.
pub const CONTENT_TYPE: &[u8] = b"protobuf:dnstap.Dnstap";

/// Control frames are small; a reader sending more than this is not a Frame Streams reader.
pub const MAX_CONTROL: usize = 512;

/// Control frame types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Accept = 1,
    Start = 2,
    Stop = 3,
    Ready = 4,
    Finish = 5,
}

/// The field type of a content type in a control frame.
const FIELD_CONTENT_TYPE: u32 = 1;

/// A control frame of `kind`, with our content type where the protocol carries one.
pub fn control(kind: Control) -> Vec<u8> {
    let mut payload = (kind as u32).to_be_bytes().to_vec();
    if matches!(kind, Control::Accept | Control::Start | Control::Ready) {
        payload.extend(FIELD_CONTENT_TYPE.to_be_bytes());
        payload.extend((CONTENT_TYPE.len() as u32).to_be_bytes());
        payload.extend(CONTENT_TYPE);
    }
    let mut frame = 0u32.to_be_bytes().to_vec();
    frame.extend((payload.len() as u32).to_be_bytes());
    frame.extend(payload);
    frame
}

/// Appends one data frame carrying `payload` to `out`.
pub fn data(out: &mut Vec<u8>, payload: &[u8]) {
    out.extend((payload.len() as u32).to_be_bytes());
    out.extend(payload);
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("expected a control frame, got a data frame")]
    NotControl,
    #[error("a control frame of {0} bytes")]
    BadLength(usize),
    #[error("unknown control frame type {0}")]
    UnknownType(u32),
    #[error("the reader does not accept {}", String::from_utf8_lossy(CONTENT_TYPE))]
    ContentType,
}

/// The length of the control frame whose first 8 bytes are `head` (escape and length),
/// not counting those 8.
pub fn control_length(head: [u8; 8]) -> Result<usize, FrameError> {
    if head[..4] != [0; 4] {
        return Err(FrameError::NotControl);
    }
    let len = u32::from_be_bytes([head[4], head[5], head[6], head[7]]) as usize;
    if !(4..=MAX_CONTROL).contains(&len) {
        return Err(FrameError::BadLength(len));
    }
    Ok(len)
}

/// The type of a control frame's payload, checking that an ACCEPT lists our content type
/// (a reader that accepts another one would discard what we send).
pub fn parse_control(payload: &[u8]) -> Result<Control, FrameError> {
    let word = |at: usize| {
        payload
            .get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let kind = match word(0).ok_or(FrameError::BadLength(payload.len()))? {
        1 => Control::Accept,
        2 => Control::Start,
        3 => Control::Stop,
        4 => Control::Ready,
        5 => Control::Finish,
        other => return Err(FrameError::UnknownType(other)),
    };
    if kind == Control::Accept {
        let mut at = 4;
        let mut ours = false;
        while let (Some(field), Some(len)) = (word(at), word(at + 4)) {
            let value = payload.get(at + 8..at + 8 + len as usize);
            ours |= field == FIELD_CONTENT_TYPE && value == Some(CONTENT_TYPE);
            at += 8 + len as usize;
        }
        // An ACCEPT without content types accepts anything.
        if at > 4 && !ours {
            return Err(FrameError::ContentType);
        }
    }
    Ok(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(frame: &[u8]) -> &[u8] {
        let len = control_length(frame[..8].try_into().unwrap()).unwrap();
        assert_eq!(frame.len(), 8 + len);
        &frame[8..]
    }

    #[test]
    fn control_frames_round_trip() {
        for kind in [
            Control::Accept,
            Control::Start,
            Control::Stop,
            Control::Ready,
            Control::Finish,
        ] {
            assert_eq!(parse_control(split(&control(kind))), Ok(kind));
        }
    }

    #[test]
    fn an_accept_for_another_content_type_is_refused() {
        let mut payload = 1u32.to_be_bytes().to_vec();
        payload.extend(1u32.to_be_bytes());
        payload.extend(3u32.to_be_bytes());
        payload.extend(b"xyz");
        assert_eq!(parse_control(&payload), Err(FrameError::ContentType));
        assert_eq!(parse_control(&1u32.to_be_bytes()), Ok(Control::Accept));
    }

    #[test]
    fn data_frames_and_bad_heads() {
        let mut out = Vec::new();
        data(&mut out, b"abc");
        assert_eq!(out, [0, 0, 0, 3, b'a', b'b', b'c']);
        assert_eq!(
            control_length([0, 0, 0, 3, 0, 0, 0, 8]),
            Err(FrameError::NotControl)
        );
        assert_eq!(
            control_length([0, 0, 0, 0, 0, 1, 0, 0]),
            Err(FrameError::BadLength(65536))
        );
    }
}
