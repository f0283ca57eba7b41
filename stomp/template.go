package stomp

// Frames the server sends: MESSAGE fan-out, ERROR, RECEIPT and CONNECTED.

// MessageTemplate is one event encoded once as a MESSAGE frame and copied to each subscriber:
// only the subscription and message-id headers differ between recipients, so everything
// before and after them is kept pre-encoded. A MessageTemplate is immutable after
// NewMessageTemplate and safe for concurrent use.
type MessageTemplate struct {
	head []byte // "MESSAGE\n", destination, content-type, extra headers, content-length
	tail []byte // blank line, body, NUL
	body []byte
}

// NewMessageTemplate pre-encodes a MESSAGE to destination. contentType may be empty; extra
// headers (e.g. "seq") are written after it. body is not retained: it is copied into the
// template.
func NewMessageTemplate(destination, contentType string, extra []Header, body []byte) *MessageTemplate {
	n := len(CmdMessage) + 1 + len(HdrDestination) + 2 + escapedLen(true, destination)
	if contentType != "" {
		n += len(HdrContentType) + 2 + escapedLen(true, contentType)
	}
	for i := range extra {
		n += escapedLen(true, extra[i].Key) + 1 + escapedLen(true, extra[i].Value) + 1
	}
	n += contentLengthLen(len(body))

	head := make([]byte, 0, n)
	head = append(head, CmdMessage+"\n"...)
	head = appendHeader(head, true, HdrDestination, destination)
	if contentType != "" {
		head = appendHeader(head, true, HdrContentType, contentType)
	}
	for i := range extra {
		if extra[i].Key == HdrContentLength {
			continue // ours is the right one
		}
		head = appendHeader(head, true, extra[i].Key, extra[i].Value)
	}
	head = appendContentLength(head, len(body))

	tail := make([]byte, 0, len(body)+2)
	tail = append(tail, '\n')
	tail = append(tail, body...)
	tail = append(tail, 0)
	return &MessageTemplate{head: head, tail: tail, body: tail[1 : 1+len(body)]}
}

// Len returns the size of the frame AppendTo produces for these ids, so a caller can size a
// WebSocket frame header before copying.
func (t *MessageTemplate) Len(subscriptionID, messageID string) int {
	return len(t.head) + len(HdrSubscription) + 2 + escapedLen(true, subscriptionID) +
		len(HdrMessageID) + 2 + escapedLen(true, messageID) + len(t.tail)
}

// AppendTo appends the MESSAGE for one subscription to dst; it allocates nothing when dst has
// room for Len bytes.
func (t *MessageTemplate) AppendTo(dst []byte, subscriptionID, messageID string) []byte {
	dst = append(dst, t.head...)
	dst = appendHeader(dst, true, HdrSubscription, subscriptionID)
	dst = appendHeader(dst, true, HdrMessageID, messageID)
	return append(dst, t.tail...)
}

// Body returns the event's body. It shares memory with the template: do not modify it.
func (t *MessageTemplate) Body() []byte { return t.body }

// ErrorFrame builds an ERROR frame: message is the short description (the "message" header),
// body the details (sent as text/plain), headers anything else, e.g. receipt-id.
func ErrorFrame(message string, body []byte, headers ...Header) *Frame {
	f := &Frame{Command: CmdError, Body: body}
	f.Headers = make([]Header, 0, len(headers)+2)
	f.Headers = append(f.Headers, Header{HdrMessage, message})
	f.Headers = append(f.Headers, headers...)
	if len(body) > 0 {
		if _, ok := f.Get(HdrContentType); !ok {
			f.Headers = append(f.Headers, Header{HdrContentType, "text/plain"})
		}
	}
	return f
}

// ReceiptFrame builds a RECEIPT for receiptID with extra headers (e.g. message-id and seq).
func ReceiptFrame(receiptID string, headers ...Header) *Frame {
	f := &Frame{Command: CmdReceipt}
	f.Headers = make([]Header, 0, len(headers)+1)
	f.Headers = append(f.Headers, Header{HdrReceiptID, receiptID})
	f.Headers = append(f.Headers, headers...)
	return f
}

// AppendReceipt appends a RECEIPT frame for receiptID without building a Frame, since every
// acknowledged SEND produces one.
func AppendReceipt(dst []byte, receiptID string, headers ...Header) []byte {
	dst = append(dst, CmdReceipt+"\n"...)
	dst = appendHeader(dst, true, HdrReceiptID, receiptID)
	for i := range headers {
		dst = appendHeader(dst, true, headers[i].Key, headers[i].Value)
	}
	return append(dst, '\n', 0)
}

// ConnectedFrame builds a CONNECTED frame for STOMP 1.2 with the server's heart-beat and extra
// headers (session, server, user-name).
func ConnectedFrame(hb HeartBeat, headers ...Header) *Frame {
	f := &Frame{Command: CmdConnected}
	f.Headers = make([]Header, 0, len(headers)+2)
	f.Headers = append(f.Headers, Header{HdrVersion, "1.2"}, Header{HdrHeartBeat, hb.String()})
	f.Headers = append(f.Headers, headers...)
	return f
}
