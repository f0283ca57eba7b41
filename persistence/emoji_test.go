package persistence

import "testing"

func TestValidateEmoji(t *testing.T) {
	valid := []string{
		"👍",                // emoji presentation
		"❤️",               // text default + VS16
		"❤",                // Extended_Pictographic without a selector
		"☺︎",               // VS15
		"👍🏽",               // skin tone
		"🧑🏻‍❤️‍💋‍🧑🏼",       // ZWJ with selectors and two skin tones
		"👨‍👩‍👧‍👦",          // family
		"🏳️‍🌈",             // rainbow flag
		"🇫🇷",               // regional indicator pair
		"🏴󠁧󠁢󠁳󠁣󠁴󠁿",          // subdivision flag (tags)
		"#️⃣", "1⃣", "*️⃣", // keycaps
		"©", "™️", "🀄", "🫠", "🫸", // older and newer ranges
		":+1:", ":thumbsup:", ":tada:", ":e-1_x:", ":abcdefghijklmnopqrstuvwxyz012345:",
	}
	for _, e := range valid {
		if err := ValidateEmoji(e); err != nil {
			t.Errorf("ValidateEmoji(%q [% x]) = %v, want nil", e, e, err)
		}
	}
	invalid := []string{
		"", "a", "tada", "x", "1", "#", "ab", "<script>", "👍 ", " 👍", "👍👍", "👍x", "x👍",
		"🇫", "🇫🇷🇩🇪", "🇫👍", // a lone or a third regional indicator
		"🏽",                     // a skin tone alone
		"👍\u200D",               // trailing ZWJ
		"\u200D👍",               // leading ZWJ
		"👍\u200D\u200D👍",        // doubled ZWJ
		"👍\uFE0F\uFE0F",         // doubled selector
		"👍🏽🏽",                   // doubled skin tone
		"🏴\U000E0067\U000E0062", // tags without the cancel tag
		"1\uFE0F",               // a digit with a selector is no keycap
		"\u20E3",                // a keycap mark alone
		"é", "\u00A0", "\uFE0F", "\x00", "\xff",
		"::", ":Tada:", ":ta da:", ":tada", "tada:", ":abcdefghijklmnopqrstuvwxyz0123456:", ":ta/da:",
		"👨‍👩‍👧‍👦👨‍👩‍👧‍👦👨‍👩‍👧‍👦", // more than 64 bytes
	}
	for _, e := range invalid {
		if err := ValidateEmoji(e); err == nil {
			t.Errorf("ValidateEmoji(%q [% x]) accepted", e, e)
		}
	}
	// Removal takes back anything the old rule let in.
	if err := ValidateEmojiRemoval("tada"); err != nil {
		t.Errorf("ValidateEmojiRemoval(tada) = %v", err)
	}
	if err := ValidateEmojiRemoval("a b"); err == nil {
		t.Error("ValidateEmojiRemoval accepted a space")
	}
}
