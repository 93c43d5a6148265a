// Package importrule holds only tests: they enforce the README's import
// rule with `go list`, that cmd only wires (no SQL, no long-running or
// goroutine loops: go/parser over cmd's files), and the convention of no exported mutable package
// variables with go/parser, and that -update is only internal/golden's
// flag, so that a breach fails CI instead of waiting
// for a review. Today's known exceptions are listed in
// the test, each with its reason; an exception that no longer occurs fails
// too, so the list only shrinks.
package importrule
