package importrule

import (
	"bytes"
	"encoding/json"
	"io"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/needsbot/needsbot"

// The rule, as the README states it.
const (
	dialogPkg   = module + "/dialog"
	xpathPkg    = module + "/dialog/xpath" // the expression language, standard library only
	yamlPrefix  = "github.com/goccy/go-yaml"
	botTree     = module + "/bot"
	coreTree    = module + "/interview"
	storageTree = module + "/storage"
	telegramLib = "github.com/go-telegram/bot"
)

// Packages outside bot that import go-telegram/bot today (issue 12 moves
// this Telegram work into bot). A new importer fails the test; so does an
// entry here that no longer imports it.
var telegramOutsideBot = map[string]string{
	module + "/cmd/needsbot": "tg.New, SetWebhook/DeleteWebhook and BotCommand in run.go, getMe in admin.go",
}

// The same for test files only.
var telegramOutsideBotInTests = map[string]string{
	module + "/staff":             "rig_test.go builds a go-telegram/bot client for bot.NewSender",
	module + "/internal/loadtest": "walker_test.go scripts a tiny bot with go-telegram/bot behind the fake Bot API to test the walker's waits",
}

type pkg struct {
	ImportPath   string
	Standard     bool
	Imports      []string
	TestImports  []string
	XTestImports []string
	Deps         []string
}

// list runs `go list -deps -test=false -json` over the module.
func list(t *testing.T) map[string]*pkg {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Standard,Imports,TestImports,XTestImports,Deps", "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	pkgs := map[string]*pkg{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		p := &pkg{}
		if err := dec.Decode(p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = p
	}
	if pkgs[dialogPkg] == nil || pkgs[botTree] == nil || pkgs[coreTree] == nil {
		t.Fatalf("go list did not list %s, %s and %s: run from the module", dialogPkg, botTree, coreTree)
	}
	return pkgs
}

func under(path, tree string) bool { return path == tree || strings.HasPrefix(path, tree+"/") }

func TestImportRule(t *testing.T) {
	pkgs := list(t)
	ours := []string{}
	for path := range pkgs {
		if under(path, module) {
			ours = append(ours, path)
		}
	}
	sort.Strings(ours)

	// dialog imports only the standard library, the YAML parser and its own
	// expression language, which imports only the standard library.
	for _, dep := range pkgs[dialogPkg].Deps {
		if d := pkgs[dep]; d != nil && !d.Standard && !under(dep, yamlPrefix) && dep != xpathPkg {
			t.Errorf("dialog depends on %s: it may import only the standard library, %s and %s", dep, yamlPrefix, xpathPkg)
		}
	}
	if pkgs[xpathPkg] == nil {
		t.Errorf("go list did not list %s", xpathPkg)
	} else {
		for _, dep := range pkgs[xpathPkg].Deps {
			if d := pkgs[dep]; d != nil && !d.Standard {
				t.Errorf("%s depends on %s: it may import only the standard library", xpathPkg, dep)
			}
		}
	}

	// bot (the Telegram adapter, with its fakes) depends on no storage.
	for _, path := range ours {
		if !under(path, botTree) {
			continue
		}
		for _, dep := range pkgs[path].Deps {
			if under(dep, storageTree) {
				t.Errorf("%s depends on %s: bot must not know storage", path, dep)
			}
		}
	}

	// interview (the application core) depends on no storage and no
	// go-telegram/bot: it declares its ports, cmd wires storage in.
	for _, path := range ours {
		if !under(path, coreTree) {
			continue
		}
		for _, dep := range pkgs[path].Deps {
			if under(dep, storageTree) || under(dep, telegramLib) {
				t.Errorf("%s depends on %s: the core knows neither storage nor Telegram", path, dep)
			}
		}
	}

	// go-telegram/bot is imported only under bot, save the listed exceptions.
	seen, seenTests := map[string]bool{}, map[string]bool{}
	for _, path := range ours {
		if under(path, botTree) {
			continue
		}
		p := pkgs[path]
		if imports(p.Imports, telegramLib) {
			seen[path] = true
			if _, ok := telegramOutsideBot[path]; !ok {
				t.Errorf("%s imports %s: only bot speaks Telegram", path, telegramLib)
			}
		}
		if imports(p.TestImports, telegramLib) || imports(p.XTestImports, telegramLib) {
			seenTests[path] = true
			if _, ok := telegramOutsideBotInTests[path]; !ok && !seen[path] {
				t.Errorf("%s's tests import %s: only bot's tests speak Telegram", path, telegramLib)
			}
		}
	}
	for path := range telegramOutsideBot {
		if !seen[path] {
			t.Errorf("%s no longer imports %s: remove it from telegramOutsideBot", path, telegramLib)
		}
	}
	for path := range telegramOutsideBotInTests {
		if !seenTests[path] {
			t.Errorf("%s's tests no longer import %s: remove it from telegramOutsideBotInTests", path, telegramLib)
		}
	}
}

func imports(list []string, tree string) bool {
	for _, p := range list {
		if under(p, tree) {
			return true
		}
	}
	return false
}
