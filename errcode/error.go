package errcode

// Error is a sentinel error that names its code. Compare with errors.Is as with any
// sentinel; Of finds its code through any wrapping.
type Error struct {
	code   string
	msg    string
	public string // shown to clients instead of the chain's text; "" shows the text
	parent error  // a broader sentinel this one also matches
}

// New is a sentinel with code and text msg.
func New(code, msg string) *Error { return &Error{code: code, msg: msg} }

// Public returns a copy of e whose client-facing detail is text: for sentinels whose own
// text is for operators, or which are wrapped around library errors a client must not read.
func (e *Error) Public(text string) *Error {
	c := *e
	c.public = text
	return &c
}

// Within returns a copy of e that also matches parent with errors.Is (a narrower case of it).
func (e *Error) Within(parent error) *Error {
	c := *e
	c.parent = parent
	return &c
}

func (e *Error) Error() string { return e.msg }

// ErrorCode is e's stable code.
func (e *Error) ErrorCode() string { return e.code }

// PublicDetail is what a client is shown for e, "" for its text.
func (e *Error) PublicDetail() string { return e.public }

func (e *Error) Unwrap() error { return e.parent }
