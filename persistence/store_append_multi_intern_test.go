package persistence

import "testing"

// OneStatement says what newAppendInput(batch).fast() says, without building the input.
func TestOneStatementAgreesWithTheAppendInput(t *testing.T) {
	for _, tc := range []struct {
		name  string
		batch []NewMessage
		want  bool
	}{
		{"empty", nil, false},
		{"plain", []NewMessage{{UserID: 1, Content: "hi"}, {UserID: 2, Content: "mail me at x@", ClientMsgID: "c"}}, true},
		{"a reply", []NewMessage{{UserID: 1, Content: "hi"}, {UserID: 1, Content: "re", ParentID: 7}}, false},
		{"a mention", []NewMessage{{UserID: 1, Content: "hi @bob"}}, false},
		{"@here", []NewMessage{{UserID: 1, Content: "@here lunch"}}, false},
		{"@channel", []NewMessage{{UserID: 1, Content: "ok"}, {UserID: 1, Content: "@channel"}}, false},
		{"a file", []NewMessage{{UserID: 1, Content: "", FileIDs: []int64{3}}}, false},
	} {
		got := OneStatement(tc.batch)
		if got != tc.want {
			t.Errorf("%s: OneStatement = %v, want %v", tc.name, got, tc.want)
		}
		if in := newAppendInput(tc.batch); len(tc.batch) > 0 && in.fast() != got {
			t.Errorf("%s: OneStatement = %v, newAppendInput(batch).fast() = %v", tc.name, got, in.fast())
		}
	}
}
