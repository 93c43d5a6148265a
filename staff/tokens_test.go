package staff

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/needsbot/needsbot/bot"
	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/interview"
	"github.com/needsbot/needsbot/org"
	"github.com/needsbot/needsbot/storage/pgstore"
)

// Invite and staff-link tokens never rest in the clear: after an invite
// made in the wizard, a staff link made in its menu and claimed, another
// one left unclaimed, a respondent opening the invite and a response
// stored through it, no text, json or bytea column of any table (and no
// Redis key or value) holds a token.
func TestNoTokenAtRest(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	r.enrol(810, "Ada", org.RoleAdmin, 0, 0, 0)
	ad := r.person(810, "Ada")
	var tokens []string
	for _, who := range []int64{811, 0} { // one claimed, one left open
		ad.send("/stafflink")
		ad.tap("Manager")
		ad.tap("Roma")
		ad.tap("7 days")
		tok := tokenIn(t, ad.u.Chat().LastFromBot().Text)
		tokens = append(tokens, tok)
		if who != 0 {
			m := r.person(who, "Marta")
			m.u.Start(tok)
			m.wait()
			if got := m.u.Chat().LastFromBot().Text; !strings.Contains(got, "You are now manager") {
				t.Fatalf("staff link: %q", got)
			}
		}
	}
	mgr := r.person(811, "Marta")
	mgr.send("/invite")
	mgr.tap("Continue without a label ▶")
	mgr.tap("Immigrants (service users)")
	mgr.tap("Anagrafe")
	mgr.tap("🪧 Poster for the desk (many people)")
	mgr.tap("90 days")
	msgs := mgr.u.Messages()
	invTok := tokenIn(t, msgs[len(msgs)-2].Text)
	tokens = append(tokens, invTok)

	resp := r.person(812, "Amina")
	resp.u.Start(invTok)
	resp.wait()
	inv, err := r.h.Resolve(ctx, invTok, "p")
	if err != nil {
		t.Fatal(err)
	}
	c := pgstore.Completed{ID: "through-invite", Pseudonym: "p", MunicipalityID: r.roma, ServiceID: &r.romaAnagrafe,
		Invite: inv.Context[interview.CtxInvite], ConsentVersion: "v1",
		Response: dialog.Response{Form: "immigrati", FormVersion: 1, Language: "en", Context: inv.Context,
			Answers: map[string]string{"consenso": "si"}, Started: time.Now().Add(-time.Minute), Completed: time.Now()}}
	if err := r.db.SaveResponse(ctx, c); err != nil {
		t.Fatal(err)
	}
	if n := r.count("SELECT count(*) FROM responses r JOIN invites i ON i.id = r.invite_id WHERE i.token_hash = $1",
		pgstore.HashToken(invTok)); n != 1 {
		t.Fatalf("the response does not name its invite by id (%d)", n)
	}

	cols, err := r.pool.Query(ctx, `SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns
		WHERE table_schema NOT IN ('pg_catalog', 'information_schema')
		  AND data_type IN ('text', 'character varying', 'character', 'bytea', 'json', 'jsonb', 'ARRAY', 'USER-DEFINED')`)
	if err != nil {
		t.Fatal(err)
	}
	type col struct{ schema, table, name, typ string }
	all, err := pgx.CollectRows(cols, func(r pgx.CollectableRow) (col, error) {
		var c col
		return c, r.Scan(&c.schema, &c.table, &c.name, &c.typ)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 20 {
		t.Fatalf("only %d columns scanned", len(all))
	}
	scanned := 0
	for _, c := range all {
		ident := pgx.Identifier{c.schema, c.table}.Sanitize()
		name := pgx.Identifier{c.name}.Sanitize()
		cond := fmt.Sprintf("strpos(%s::text, $1) > 0", name)
		if c.typ == "bytea" {
			cond = fmt.Sprintf("position(convert_to($1, 'UTF8') in %s) > 0 OR strpos(encode(%s, 'hex'), encode(convert_to($1, 'UTF8'), 'hex')) > 0", name, name)
		}
		for _, tok := range tokens {
			var n int
			if err := r.pool.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM %s WHERE %s", ident, cond), tok).Scan(&n); err != nil {
				t.Fatalf("%s.%s: %v", ident, name, err)
			}
			if n != 0 {
				t.Errorf("%s.%s holds a token in the clear", ident, name)
			}
		}
		scanned++
	}
	// The hashes are there.
	if n := r.count("SELECT count(*) FROM staff_invites WHERE token_hash IN ($1, $2)", pgstore.HashToken(tokens[0]), pgstore.HashToken(tokens[1])); n != 2 {
		t.Fatalf("%d staff link hashes stored, want 2", n)
	}

	// Redis: the interview's stored context names the invite by id, and
	// no key or value holds a token.
	keys, err := r.rdb.Keys(ctx, r.prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var seen strings.Builder
	stateFound := false
	for _, k := range keys {
		seen.WriteString(k + "\n")
		typ, err := r.rdb.Type(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		var vals []string
		switch typ {
		case "string":
			v, err := r.rdb.Get(ctx, k).Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				t.Fatal(err)
			}
			vals = []string{v}
		case "hash":
			m, err := r.rdb.HGetAll(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			for f, v := range m {
				vals = append(vals, f, v)
				if st, err := dialog.Decode([]byte(v)); err == nil && st.Context[interview.CtxInvite] == inv.Context[interview.CtxInvite] {
					stateFound = true // the state is a binary record: decoded to be recognised
				}
			}
		case "list":
			vals, err = r.rdb.LRange(ctx, k, 0, -1).Result()
		case "set":
			vals, err = r.rdb.SMembers(ctx, k).Result()
		case "zset":
			vals, err = r.rdb.ZRange(ctx, k, 0, -1).Result()
		default:
			t.Fatalf("Redis key %q of type %s not scanned", k, typ)
		}
		if err != nil {
			t.Fatal(err)
		}
		seen.WriteString(strings.Join(vals, "\n") + "\n")
	}
	dump := seen.String()
	for _, tok := range tokens {
		if strings.Contains(dump, tok) {
			t.Errorf("Redis holds a token:\n%s", dump)
		}
	}
	if !stateFound {
		t.Fatalf("the interview's state (invite %s) not found in Redis:\n%s", inv.Context[interview.CtxInvite], dump)
	}
	t.Logf("%d columns and %d Redis keys scanned for %d tokens", scanned, len(keys), len(tokens))
}

// failingLimiter is the real limiter until it is told to fail.
type failingLimiter struct {
	Limiter
	fail *atomic.Bool
}

func (f failingLimiter) Limited(ctx context.Context, key string, limit int, per time.Duration) (bool, error) {
	if f.fail.Load() {
		return false, errors.New("redis down")
	}
	return f.Limiter.Limited(ctx, key, limit, per)
}

func (f failingLimiter) Allow(ctx context.Context, key string, limit int, per time.Duration) (bool, error) {
	if f.fail.Load() {
		return false, errors.New("redis down")
	}
	return f.Limiter.Allow(ctx, key, limit, per)
}

// The bad-token limit is checked before the lookup: a user over it is
// refused even with a right invite or staff link (which is then not used),
// and staff links are refused while the limiter cannot answer.
func TestLimitBeforeLookup(t *testing.T) {
	t.Parallel()
	var down atomic.Bool
	r := newRig(t, func(c *Config) { c.Limiter = failingLimiter{Limiter: c.Limiter, fail: &down} })
	ctx := context.Background()
	ad := r.enrol(820, "Ada", org.RoleAdmin, 0, 0, 0)
	good, err := r.db.CreateInvite(ctx, pgstore.Invite{Token: "goodgoodgoodgoodgood", Form: "immigrati", MunicipalityID: r.roma, OperatorID: ad.ID})
	if err != nil {
		t.Fatal(err)
	}
	link, err := NewStaffToken(r.h.rand)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.db.CreateStaffLink(ctx, pgstore.StaffLink{Token: link, Role: string(org.RoleOperator), MunicipalityID: r.roma,
		CreatedBy: ad.ID, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}

	u := r.person(821, "Guesser")
	user := r.h.cfg.Pseudonym(821)
	for range 5 {
		if _, err := r.h.Resolve(ctx, "guessguessguessguess", user); !errors.Is(err, interview.ErrInviteUnknown) {
			t.Fatalf("bad guess: %v", err)
		}
	}
	// Over the limit now: the right invite token is refused, unused.
	if _, err := r.h.Resolve(ctx, "goodgoodgoodgoodgood", user); !errors.Is(err, interview.ErrInviteLimited) {
		t.Fatalf("limited user's right token: %v, want ErrInviteLimited", err)
	}
	if n := r.count("SELECT uses FROM invites WHERE id = $1", good.ID); n != 0 {
		t.Fatalf("the refused open counted a use (%d)", n)
	}
	// So is the right staff link: no enrolment.
	u.u.Start(link)
	u.wait()
	if got := u.u.Chat().LastFromBot().Text; got != r.render(bot.MsgInviteLimited) {
		t.Fatalf("limited user's right staff link: %q", got)
	}
	if n := r.count("SELECT count(*) FROM staff WHERE telegram_user_id = 821"); n != 0 {
		t.Fatal("a limited user was enrolled")
	}
	// Someone else is not limited.
	if _, err := r.h.Resolve(ctx, "goodgoodgoodgoodgood", r.h.cfg.Pseudonym(822)); err != nil {
		t.Fatalf("another user: %v", err)
	}

	// Redis down: staff links fail closed, invites open.
	down.Store(true)
	v := r.person(823, "Vera")
	v.u.Start(link)
	v.wait()
	if n := r.count("SELECT count(*) FROM staff WHERE telegram_user_id = 823"); n != 0 {
		t.Fatal("a staff link was claimed while the limiter was down")
	}
	if got := v.u.Chat().LastFromBot().Text; got != r.render(bot.MsgError) {
		t.Fatalf("staff link with the limiter down: %q, want the error message", got)
	}
	if _, err := r.h.Resolve(ctx, "goodgoodgoodgoodgood", r.h.cfg.Pseudonym(823)); err != nil {
		t.Fatalf("invite with the limiter down: %v", err)
	}
	down.Store(false)
	v.u.Start(link)
	v.wait()
	if got := v.u.Chat().LastFromBot().Text; !strings.Contains(got, "You are now operator") {
		t.Fatalf("staff link once the limiter is back: %q", got)
	}
}
