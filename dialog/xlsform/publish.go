package xlsform

import (
	"fmt"
	"slices"
)

// Publication is a workbook ready to publish (issue 13): the imported form,
// the languages it can be published for and those left out because they
// lack messages. `needsbot form publish` and the bot's workbook upload share it.
type Publication struct {
	Result     *Result
	Complete   []string
	Incomplete []string
}

// Prepare imports a workbook for publication: refused with the importer's
// problems (a *RefusedError), or when the default language lacks messages.
func Prepare(wb *Workbook) (*Publication, error) {
	res, err := Import(wb)
	if err != nil {
		return nil, err
	}
	p := &Publication{Result: res}
	p.Complete, p.Incomplete = res.CompleteLanguages()
	if !slices.Contains(p.Complete, res.Form.Language) {
		return nil, fmt.Errorf("the default language %s lacks messages: complete it before publishing", res.Form.Language)
	}
	return p, nil
}

// Messages is the message file (TOML) of every complete language.
func (p *Publication) Messages() map[string]string {
	msgs := make(map[string]string, len(p.Complete))
	for _, l := range p.Complete {
		msgs[l] = string(p.Result.TOML(l))
	}
	return msgs
}
