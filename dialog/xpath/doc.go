// Package xpath is the XLSForm expression language: the subset of XPath 1.0
// that XLSForm (ODK, KoboToolbox, SurveyCTO) forms use in their relevant,
// constraint, choice_filter, calculation and default columns, so that
// definitions can be imported from XLSForm without rewriting their logic.
//
// Parse turns source text into an immutable *Expr when a form loads; Eval and
// Bool evaluate it against an Env as often as needed. Evaluation follows ODK:
// every answer is a string and values convert between string, number and
// boolean on demand. The package reads no clock (today() asks the Env) and
// has no dependencies beyond the standard library.
package xpath
