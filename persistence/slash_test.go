package persistence

import "testing"

// The rule of ADR 0038: only a leading /word is a command call; "//" escapes one.
func TestParseSlash(t *testing.T) {
	for _, tc := range []struct {
		content, name, text string
		ok                  bool
		posted              string // what is posted when it is not a call
	}{
		{content: "/deploy prod now", name: "/deploy", text: "prod now", ok: true},
		{content: "/deploy", name: "/deploy", ok: true},
		{content: "/Deploy  x \n", name: "/deploy", text: "x", ok: true},
		{content: "/deploy\tx", name: "/deploy", text: "x", ok: true},
		{content: "/deploy\u00a0x", name: "/deploy", text: "x", ok: true},
		{content: "/a-b_c9", name: "/a-b_c9", ok: true},
		{content: "/usr/bin is a directory", posted: "/usr/bin is a directory"},
		{content: "/ is a slash", posted: "/ is a slash"},
		{content: "/", posted: "/"},
		{content: "//deploy prod", posted: "/deploy prod"},
		{content: "//deploy", posted: "/deploy"},
		{content: "// a comment", posted: "// a comment"},
		{content: "///deploy", posted: "///deploy"},
		{content: "/déploy", posted: "/déploy"},
		{content: "/deploy, then", posted: "/deploy, then"},
		{content: "/" + "abcdefghijabcdefghijabcdefghijab x", name: "/abcdefghijabcdefghijabcdefghijab", text: "x", ok: true},
		{content: "/" + "abcdefghijabcdefghijabcdefghijabc x", posted: "/abcdefghijabcdefghijabcdefghijabc x"},
		{content: " /deploy", posted: " /deploy"},
		{content: "hello /deploy", posted: "hello /deploy"},
	} {
		name, text, ok := ParseSlash(tc.content)
		if name != tc.name || text != tc.text || ok != tc.ok {
			t.Errorf("ParseSlash(%q) = %q, %q, %v; want %q, %q, %v", tc.content, name, text, ok, tc.name, tc.text, tc.ok)
		}
		if !ok {
			if got := UnescapeSlash(tc.content); got != tc.posted {
				t.Errorf("UnescapeSlash(%q) = %q, want %q", tc.content, got, tc.posted)
			}
		}
		if ok && ValidateSlashName(name) != nil {
			t.Errorf("%q: a call's name %q is not a valid command name", tc.content, name)
		}
	}
}

func TestValidateCommandReply(t *testing.T) {
	for _, tc := range []struct {
		content, vis, wantContent, wantVis string
		bad                                bool
	}{
		{"hi", "", "hi", VisibilityEphemeral, false},
		{"hi", "channel", "hi", VisibilityChannel, false},
		{"  ", "channel", "", VisibilityChannel, false},
		{"hi", "everyone", "", "", true},
		{"a\x00b", "ephemeral", "", "", true},
	} {
		c, v, err := ValidateCommandReply(tc.content, tc.vis)
		if (err != nil) != tc.bad || c != tc.wantContent || v != tc.wantVis {
			t.Errorf("ValidateCommandReply(%q, %q) = %q, %q, %v", tc.content, tc.vis, c, v, err)
		}
	}
}
