package dialog

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	yamlparser "github.com/goccy/go-yaml/parser"
)

// MaxChoiceName is the longest choice name, in bytes, that still fits in
// Telegram's 64-byte callback data together with the button codec's header.
const MaxChoiceName = 32

// DefaultMaxText is the length cap of text answers without max_length.
const DefaultMaxText = 1000

var (
	nameRe       = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	choiceNameRe = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
)

// Problem is one thing wrong with a definition, at a line of its file.
type Problem struct {
	File string
	Line int
	Msg  string
}

func (p Problem) String() string { return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg) }

// LoadError lists every problem found while loading a definition.
type LoadError struct{ Problems []Problem }

func (e *LoadError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Parse loads one questionnaire definition from YAML: the YAML becomes
// rows (ParseRows), and the rows a Form (Compile). file names the source
// in problems. Every problem is reported, as a *LoadError.
func Parse(file string, src []byte) (*Form, error) {
	l := &loader{file: file}
	s := l.yamlRows(src)
	if s == nil {
		return l.done(nil)
	}
	return l.done(l.compile(s))
}

// ParseRows reads a YAML definition into the row model without compiling
// it.
func ParseRows(file string, src []byte) (*Sheets, error) {
	l := &loader{file: file}
	s := l.yamlRows(src)
	if len(l.problems) > 0 {
		_, err := l.done(nil)
		return nil, err
	}
	return s, nil
}

// yamlKeys maps the YAML file's top-level keys to settings columns.
var yamlKeys = map[string]string{"form": SetFormID, "version": SetVersion, "title": SetTitle,
	"default_language": SetDefaultLanguage, "consent": SetConsent, "eligible": SetEligible,
	"audience": SetAudience, "pairs_with": SetPairsWith}

// yamlRows turns the YAML syntax tree into rows: the only place that knows
// YAML. Groups written with children become begin_group … end_group rows.
func (l *loader) yamlRows(src []byte) *Sheets {
	file, err := yamlparser.ParseBytes(src, 0)
	if err != nil {
		l.yamlError(err)
		return nil
	}
	if len(file.Docs) != 1 || file.Docs[0].Body == nil {
		l.errorf(1, "expected exactly one YAML document")
		return nil
	}
	root := file.Docs[0].Body
	if pairs(root) == nil {
		l.errorf(1, "a definition is a mapping with form, version, survey and choices")
		return nil
	}
	s := &Sheets{File: l.file, Settings: Row{Line: 1}}
	var survey, choices ast.Node
	for _, kv := range pairs(root) {
		key := kv.Key.GetToken().Value
		ln := kv.Key.GetToken().Position.Line
		switch key {
		case "survey":
			survey = kv.Value
		case "choices":
			choices = kv.Value
		default:
			col, ok := yamlKeys[key]
			if !ok {
				l.errorf(ln, "unknown key %q", key)
				continue
			}
			s.Settings.setAt(col, scalar(kv.Value), ln)
		}
	}
	l.yamlChoices(s, choices)
	seq, ok := survey.(*ast.SequenceNode)
	if !ok {
		l.errorf(1, "missing survey: a list of rows")
		return s
	}
	l.yamlSurvey(s, seq)
	return s
}

func (l *loader) yamlError(err error) {
	var ye yaml.Error
	if errors.As(err, &ye) && ye.GetToken() != nil {
		l.errorf(ye.GetToken().Position.Line, "%s", ye.GetMessage())
		return
	}
	l.errorf(1, "%v", err)
}

// pairs returns the key/value pairs of a mapping node (goccy represents a
// one-pair mapping as a bare MappingValueNode), or nil.
func pairs(n ast.Node) []*ast.MappingValueNode {
	switch m := n.(type) {
	case *ast.MappingNode:
		return m.Values
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{m}
	case *ast.TagNode:
		return pairs(m.Value)
	case *ast.AnchorNode:
		return pairs(m.Value)
	}
	return nil
}

// scalar returns the raw text of a scalar node: the token value, so that
// an unquoted yes stays "yes" rather than becoming a boolean.
func scalar(n ast.Node) string {
	if n == nil {
		return ""
	}
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode, *ast.SequenceNode:
		return ""
	case *ast.NullNode:
		return ""
	}
	return n.GetToken().Value
}

func isScalar(n ast.Node) bool {
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode, *ast.SequenceNode:
		return false
	}
	return true
}

func line(n ast.Node) int {
	if n == nil || n.GetToken() == nil {
		return 1
	}
	return n.GetToken().Position.Line
}

func (l *loader) yamlChoices(s *Sheets, n ast.Node) {
	if n == nil {
		return
	}
	ps := pairs(n)
	if ps == nil {
		l.errorf(line(n), "choices must map list names to lists of choices")
		return
	}
	seen := map[string]bool{}
	for _, kv := range ps {
		name := kv.Key.GetToken().Value
		ln := kv.Key.GetToken().Position.Line
		if seen[name] {
			l.errorf(ln, "duplicate list %q", name)
			continue
		}
		seen[name] = true
		seq, ok := kv.Value.(*ast.SequenceNode)
		if !ok || len(seq.Values) == 0 {
			l.errorf(ln, "list %q must have at least one choice", name)
			continue
		}
		for _, item := range seq.Values {
			r := Row{Line: line(item)}
			r.Set(ChoiceListName, name)
			if ps := pairs(item); ps != nil {
				for _, col := range ps {
					k := col.Key.GetToken().Value
					if !isScalar(col.Value) {
						l.errorf(line(col.Key), "list %q: %s must be a single value", name, k)
					}
					r.setAt(k, scalar(col.Value), col.Key.GetToken().Position.Line)
				}
			} else {
				r.Set(ChoiceName, scalar(item))
			}
			s.Choices = append(s.Choices, r)
		}
	}
}

func (l *loader) yamlSurvey(s *Sheets, seq *ast.SequenceNode) {
	for _, item := range seq.Values {
		ln := line(item)
		ps := pairs(item)
		if ps == nil {
			l.errorf(ln, "a survey row is a mapping of columns (type, name, …)")
			continue
		}
		r := Row{Line: ln}
		var children *ast.SequenceNode
		hasChildren := false
		for _, kv := range ps {
			k := kv.Key.GetToken().Value
			kl := kv.Key.GetToken().Position.Line
			if k == "children" {
				hasChildren = true
				children, _ = kv.Value.(*ast.SequenceNode)
				continue
			}
			if !isScalar(kv.Value) {
				l.errorf(kl, "%s must be a single value", k)
				continue
			}
			r.setAt(k, scalar(kv.Value), kl)
		}
		if r.Get("type") != "group" {
			if hasChildren {
				l.errorf(ln, "only a group has children")
			}
			s.Survey = append(s.Survey, r)
			continue
		}
		// A group with children: the same rows as begin_group … end_group.
		r.Set("type", "begin_group")
		s.Survey = append(s.Survey, r)
		if children != nil {
			l.yamlSurvey(s, children)
		}
		s.Survey = append(s.Survey, Row{Line: ln, Cells: map[string]string{"type": "end_group"}})
	}
}

// LoadFS loads every *.yaml / *.yml file in dir of fsys. Problems of all
// files are reported together.
func LoadFS(fsys fs.FS, dir string) ([]*Form, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read questionnaires: %w", err)
	}
	var forms []*Form
	var all []Problem
	for _, e := range entries {
		ext := path.Ext(e.Name())
		if e.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		name := path.Join(dir, e.Name())
		src, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read questionnaire: %w", err)
		}
		f, err := Parse(name, src)
		var le *LoadError
		switch {
		case errors.As(err, &le):
			all = append(all, le.Problems...)
		case err != nil:
			return nil, err
		default:
			forms = append(forms, f)
		}
	}
	if len(all) > 0 {
		return nil, &LoadError{Problems: all}
	}
	return forms, nil
}
