package bot

// MsgLanguageMore labels the language menu's key to its second page.
const MsgLanguageMore = "m.language.more"

// langMessageIDs are the language menu's ids beyond MsgLanguageChoose, for
// lint (MessageIDs).
func langMessageIDs() []string { return []string{MsgLanguageMore} }

// pickerFirstPage is how many languages the language menu's first page
// offers: the suggested one, the municipality's most used, then the usual
// order; the others are one tap away on the second page. Five rows of two
// fit a 360×640 phone screen with the menu's title and the chat above.
const pickerFirstPage = 10

// pageOption is the Option of a CbLanguage key that turns the menu's page
// (Pos is the page) instead of choosing a language: no language code
// contains '>'.
const pageOption = ">"
