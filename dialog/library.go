package dialog

import (
	"fmt"
	"sort"
)

// Library holds every loaded questionnaire, in every version, so that an
// interview started on an older version keeps running on it.
type Library struct {
	forms map[string][]*Form // by id, ascending version
}

// NewLibrary indexes forms by id and version. Two forms with the same id and
// version are an error.
func NewLibrary(forms ...*Form) (*Library, error) {
	lib := &Library{forms: map[string][]*Form{}}
	for _, f := range forms {
		for _, g := range lib.forms[f.ID] {
			if g.Version == f.Version {
				return nil, fmt.Errorf("questionnaire %s version %d defined twice (%s, %s)", f.ID, f.Version, g.File, f.File)
			}
		}
		lib.forms[f.ID] = append(lib.forms[f.ID], f)
	}
	for _, vs := range lib.forms {
		sort.Slice(vs, func(i, j int) bool { return vs[i].Version < vs[j].Version })
	}
	return lib, nil
}

// Get returns the form with id and version, or nil.
func (l *Library) Get(id string, version int) *Form {
	for _, f := range l.forms[id] {
		if f.Version == version {
			return f
		}
	}
	return nil
}

// Latest returns the newest version of the form id, or nil.
func (l *Library) Latest(id string) *Form {
	vs := l.forms[id]
	if len(vs) == 0 {
		return nil
	}
	return vs[len(vs)-1]
}

// IDs lists the form ids, sorted.
func (l *Library) IDs() []string {
	ids := make([]string, 0, len(l.forms))
	for id := range l.forms {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Forms returns every form in every version.
func (l *Library) Forms() []*Form {
	var all []*Form
	for _, id := range l.IDs() {
		all = append(all, l.forms[id]...)
	}
	return all
}
