// Package importrule holds only a test: it enforces the README's import
// rule with `go list`, so that a new import across the layers fails CI
// instead of waiting for a review. Today's known exceptions are listed in
// the test, each with its reason; an exception that no longer occurs fails
// too, so the list only shrinks.
package importrule
