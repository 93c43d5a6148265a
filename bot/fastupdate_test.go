package bot

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// updateSeeds are real shapes of updates (as Telegram and the fake Bot API
// send them) and odd ones. fast: the hand-written decoder reads it.
var updateSeeds = []struct {
	name, body string
	fast       bool
}{
	{"start", `{"update_id":100,"message":{"message_id":1,"from":{"id":42,"is_bot":false,"first_name":"Amina","language_code":"it"},"chat":{"id":42,"first_name":"Amina","type":"private"},"date":1700000000,"text":"/start q1","entities":[{"offset":0,"length":6,"type":"bot_command"}]}}`, true},
	{"text", `{"update_id":101,"message":{"message_id":2,"from":{"id":42,"is_bot":false,"first_name":"A","last_name":"B","username":"ab","language_code":"en","is_premium":true},"chat":{"id":42,"type":"private","first_name":"A","last_name":"B","username":"ab"},"date":1700000001,"text":"hello there"}}`, true},
	{"callback", `{"update_id":102,"callback_query":{"id":"4382bfdwdsb323b2d9","from":{"id":42,"is_bot":false,"first_name":"A","language_code":"ar"},"message":{"message_id":9,"from":{"id":7,"is_bot":true,"first_name":"Needs","username":"needsbot"},"chat":{"id":42,"first_name":"A","type":"private"},"date":1700000000,"text":"Q? \u003cb\u003e","entities":[{"offset":0,"length":2,"type":"bold"}],"reply_markup":{"inline_keyboard":[[{"text":"Yes","callback_data":"c:1"},{"text":"No","callback_data":"c:2"}],[{"text":"Back","callback_data":"b"}]]}},"chat_instance":"-2435897234","data":"c:1"}}`, true},
	{"callback pretty", "{\n  \"update_id\": 103,\n  \"callback_query\": {\n    \"id\": \"q\",\n    \"from\": {\"id\": 1, \"is_bot\": false, \"first_name\": \"x\"},\n    \"message\": {\"message_id\": 3, \"date\": 5, \"chat\": {\"id\": 1, \"type\": \"private\"}, \"x\": [1, -2.5e+3, 0.0, true, false, null, {}, [], \"\\u00e9\\n\"]},\n    \"chat_instance\": \"ci\",\n    \"data\": \"d\"\n  }\n}\n", true},
	{"inaccessible", `{"update_id":104,"callback_query":{"id":"q2","from":{"id":42,"first_name":"A"},"message":{"message_id":3,"date":0,"chat":{"id":42,"type":"private"}},"data":"d"}}`, true},
	{"inline", `{"update_id":105,"callback_query":{"id":"q3","from":{"id":5,"first_name":"B"},"inline_message_id":"im","chat_instance":"1","data":"d","game_short_name":"g"}}`, true},
	{"edited", `{"update_id":106,"edited_message":{"message_id":1,"from":{"id":42,"is_bot":false,"first_name":"A"},"chat":{"id":42,"type":"private","first_name":"A"},"date":1700000000,"edit_date":1700000050,"text":"fixed"}}`, true},
	{"group", `{"update_id":107,"message":{"message_id":10,"from":{"id":42,"is_bot":false,"first_name":"A"},"chat":{"id":-1001234567890,"title":"Volunteers","type":"supergroup","is_forum":true},"date":1700000000,"text":"/results@needsbot","entities":[{"offset":0,"length":17,"type":"bot_command"}]}}`, true},
	{"unicode", `{"update_id":108,"message":{"message_id":11,"from":{"id":42,"is_bot":false,"first_name":"محمد","language_code":"fa"},"chat":{"id":42,"type":"private","first_name":"محمد"},"date":1700000000,"text":"سلام 👋 ça va? 中文"}}`, true},
	{"escapes", `{"update_id":109,"message":{"message_id":12,"from":{"id":42,"is_bot":false,"first_name":"\u0410\u043d\u043d\u0430"},"chat":{"id":42,"type":"private"},"date":1700000000,"text":"a\"b\\c\/d\b\f\n\r\t \ud83d\ude00 \u00e9\u4e2d"}}`, true},
	{"lone surrogates", `{"update_id":110,"message":{"message_id":13,"from":{"id":42,"first_name":"x"},"chat":{"id":42,"type":"private"},"date":1,"text":"\ud83d x \ude00 \ud83d\u0041 \ud83d\ud83d\ude00 end\ud800"}}`, true},
	{"entities url", `{"update_id":111,"message":{"message_id":14,"from":{"id":42,"first_name":"x"},"chat":{"id":42,"type":"private"},"date":1,"text":"see x","entities":[{"type":"text_link","offset":4,"length":1,"url":"https://example.org"},{"type":"pre","offset":0,"length":3,"language":"go"},{"type":"custom_emoji","offset":0,"length":2,"custom_emoji_id":"5"}]}}`, true},
	{"empty entities", `{"update_id":112,"message":{"message_id":15,"chat":{"id":42,"type":"private"},"date":1,"text":"","entities":[]}}`, true},
	{"only id", `{"update_id":113}`, true},
	{"empty", `{}`, true},
	{"negative zero", `{"update_id":-0}`, true},
	{"trailing space", "{\"update_id\":1}\r\n\t ", true},
	{"huge text", `{"update_id":114,"message":{"message_id":16,"from":{"id":42,"first_name":"x"},"chat":{"id":42,"type":"private"},"date":1,"text":"` + strings.Repeat("lorem ipsum é ", 300) + `"}}`, true},

	{"sticker", `{"update_id":200,"message":{"message_id":17,"from":{"id":42,"is_bot":false,"first_name":"A"},"chat":{"id":42,"type":"private"},"date":1700000000,"sticker":{"file_id":"CAAC","file_unique_id":"AgAD","type":"regular","width":512,"height":512,"is_animated":false,"is_video":false,"emoji":"👍"}}}`, false},
	{"photo", `{"update_id":201,"message":{"message_id":18,"from":{"id":42,"first_name":"A"},"chat":{"id":42,"type":"private"},"date":1,"photo":[{"file_id":"a","file_unique_id":"b","width":90,"height":90}],"caption":"c"}}`, false},
	{"forward", `{"update_id":202,"message":{"message_id":19,"from":{"id":42,"first_name":"A"},"chat":{"id":42,"type":"private"},"date":1,"forward_origin":{"type":"user","date":5,"sender_user":{"id":9,"is_bot":false,"first_name":"Z"}},"text":"fw"}}`, false},
	{"reply", `{"update_id":203,"message":{"message_id":20,"from":{"id":42,"first_name":"A"},"chat":{"id":42,"type":"private"},"date":1,"text":"x","reply_to_message":{"message_id":5,"from":{"id":7,"is_bot":true,"first_name":"N"},"chat":{"id":42,"type":"private"},"date":1,"text":"menu","reply_markup":{"inline_keyboard":[[{"text":"s","callback_data":"s"}]]}}}}`, false},
	{"blocked", `{"update_id":204,"my_chat_member":{"chat":{"id":42,"type":"private"},"from":{"id":42,"first_name":"A"},"date":1,"old_chat_member":{"status":"member","user":{"id":7,"is_bot":true,"first_name":"N"}},"new_chat_member":{"status":"kicked","user":{"id":7,"is_bot":true,"first_name":"N"},"until_date":0}}}`, false},
	{"channel post", `{"update_id":205,"channel_post":{"message_id":1,"sender_chat":{"id":-100,"type":"channel","title":"c"},"chat":{"id":-100,"type":"channel","title":"c"},"date":1,"text":"post"}}`, false},
	{"unknown kind", `{"update_id":206,"poll":{"id":"p","question":"q","options":[],"total_voter_count":0,"is_closed":false,"is_anonymous":true,"type":"regular","allows_multiple_answers":false}}`, false},
	{"text mention", `{"update_id":207,"message":{"message_id":1,"chat":{"id":42,"type":"private"},"date":1,"text":"x","entities":[{"type":"text_mention","offset":0,"length":1,"user":{"id":5,"first_name":"u"}}]}}`, false},
	{"null message", `{"update_id":208,"message":null}`, false},
	{"null text", `{"update_id":209,"message":{"message_id":1,"chat":{"id":42,"type":"private"},"date":1,"text":null}}`, false},
	{"upper key", `{"Update_ID":210}`, false},
	{"kelvin key", `{"update_id":211,"message":{"message_id":1,"chat":{"id":42,"type":"private"},"date":1,"text":"x","from":{"id":1,"first_name":"K","\u006cast_name":"x"}}}`, false},
	{"duplicate key", `{"update_id":212,"update_id":213}`, false},
	{"duplicate object", `{"update_id":1,"message":{"message_id":1,"chat":{"id":1},"chat":{"type":"private"},"date":1}}`, false},
	{"float id", `{"update_id":1.0}`, false},
	{"exp id", `{"update_id":1e3}`, false},
	{"big id", `{"update_id":123456789012345678901}`, false},
	{"leading zero", `{"update_id":01}`, false},
	{"string id", `{"update_id":"1"}`, false},
	{"bad utf8", "{\"update_id\":1,\"message\":{\"message_id\":1,\"chat\":{\"id\":1,\"type\":\"private\"},\"date\":1,\"text\":\"a\xffb\"}}", false},
	{"control char", "{\"update_id\":1,\"message\":{\"message_id\":1,\"chat\":{\"id\":1,\"type\":\"private\"},\"date\":1,\"text\":\"a\nb\"}}", false},
	{"bad escape", `{"update_id":1,"message":{"message_id":1,"chat":{"id":1,"type":"private"},"date":1,"text":"a\qb"}}`, false},
	{"short unicode escape", `{"update_id":1,"message":{"message_id":1,"chat":{"id":1,"type":"private"},"date":1,"text":"a\u12"}}`, false},
	{"trailing garbage", `{"update_id":1} {"update_id":2}`, false},
	{"truncated", `{"update_id":`, false},
	{"array", `[{"update_id":1}]`, false},
	{"null", `null`, false},
	{"empty body", ``, false},
	{"trailing comma", `{"update_id":1,}`, false},
	{"deep skip", `{"update_id":1,"callback_query":{"id":"q","from":{"id":1,"first_name":"x"},"message":{"message_id":1,"date":1,"chat":{"id":1,"type":"private"},"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}}}`, false},
	{"bad skipped number", `{"update_id":1,"callback_query":{"id":"q","from":{"id":1,"first_name":"x"},"message":{"message_id":1,"date":1,"chat":{"id":1,"type":"private"},"x":-01}}}`, false},
	{"bool as string", `{"update_id":1,"message":{"message_id":1,"from":{"id":1,"is_bot":"false"},"chat":{"id":1,"type":"private"},"date":1}}`, false},
}

// checkFast holds the hand-written decoder to encoding/json's result.
func checkFast(t *testing.T, body []byte) (fast bool) {
	t.Helper()
	got, ok := fastUpdate(body)
	if !ok {
		return false
	}
	want, err := decodeUpdateJSON(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("fast decoder read %q, encoding/json refuses it: %v", body, err)
	}
	if facts(got) != facts(want) {
		t.Fatalf("fast decoder reads %q differently:\n got %+v\nwant %+v", body, facts(got), facts(want))
	}
	return true
}

// facts is what the bot reads of u: u without the library's decode, kept
// for the journal (nil: the zero Update).
func facts(u *Update) Update {
	if u == nil {
		return Update{}
	}
	f := *u
	f.lib = nil
	return f
}

func allFacts(us []*Update) []Update {
	if us == nil {
		return nil
	}
	fs := make([]Update, len(us))
	for i, u := range us {
		fs[i] = facts(u)
	}
	return fs
}

func TestFastUpdateMatchesEncodingJSON(t *testing.T) {
	for _, c := range updateSeeds {
		t.Run(c.name, func(t *testing.T) {
			if fast := checkFast(t, []byte(c.body)); fast != c.fast {
				t.Fatalf("fast path %v, want %v", fast, c.fast)
			}
			// Whatever path it takes, decodeUpdate gives encoding/json's answer.
			got, err := decodeUpdate(strings.NewReader(c.body))
			want, werr := decodeUpdateJSON(strings.NewReader(c.body))
			if (err == nil) != (werr == nil) || facts(got) != facts(want) {
				t.Fatalf("decodeUpdate = %+v, %v; encoding/json %+v, %v", got, err, want, werr)
			}
		})
	}
}

func TestDecodeUpdateReadError(t *testing.T) {
	boom := errors.New("connection reset")
	// A whole update then an error: the stream decoder has its value.
	u, err := decodeUpdate(iotest.DataErrReader(strings.NewReader(`{"update_id":5}`)))
	if err != nil || u.ID != 5 {
		t.Fatalf("got %+v, %v", u, err)
	}
	if _, err := decodeUpdate(io.MultiReader(strings.NewReader(`{"update_id":`), iotest.ErrReader(boom))); !errors.Is(err, boom) {
		t.Fatalf("err %v, want %v", err, boom)
	}
}

func FuzzDecodeUpdate(f *testing.F) {
	for _, c := range updateSeeds {
		f.Add([]byte(c.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkFast(t, body)
		checkFastUpdates(t, []byte(`{"ok":true,"result":[`+string(body)+`]}`))
		// Never a crash, whatever path it takes.
		_, _ = decodeUpdate(bytes.NewReader(body))
	})
}

func checkFastUpdates(t *testing.T, body []byte) bool {
	t.Helper()
	ok, got, desc, fast := fastUpdates(body)
	if !fast {
		return false
	}
	wok, want, wdesc, err := decodeUpdatesJSON(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("fast decoder read %q, encoding/json refuses it: %v", body, err)
	}
	if ok != wok || desc != wdesc || !reflect.DeepEqual(allFacts(got), allFacts(want)) {
		t.Fatalf("fast decoder reads %q differently:\n got %v %+v %q\nwant %v %+v %q", body, ok, allFacts(got), desc, wok, allFacts(want), wdesc)
	}
	return true
}

func TestFastUpdatesMatchesEncodingJSON(t *testing.T) {
	var all []string
	for _, c := range updateSeeds {
		if c.fast {
			all = append(all, c.body)
		}
	}
	for _, c := range []struct {
		body string
		fast bool
	}{
		{`{"ok":true,"result":[]}`, true},
		{`{"ok":true,"result":[` + strings.Join(all, ",") + `]}`, true},
		{"{\"ok\" : true , \"result\" : [ " + updateSeeds[0].body + " , " + updateSeeds[2].body + " ] }\n", true},
		{`{"ok":false,"error_code":409,"description":"Conflict: terminated by other getUpdates request"}`, false},
		{`{"ok":false,"description":"Bad Gateway"}`, true},
		{`{"ok":true,"result":[null]}`, false},
		{`{"ok":true,"result":[` + updateSeeds[len(updateSeeds)-1].body + `]}`, false},
		{`{"ok":true,"result":[{"update_id":1},]}`, false},
		{`{"ok":true,"ok":false}`, false},
	} {
		if fast := checkFastUpdates(t, []byte(c.body)); fast != c.fast {
			t.Errorf("%.60s: fast path %v, want %v", c.body, fast, c.fast)
		}
		ok, got, desc, err := decodeUpdates(strings.NewReader(c.body), int64(len(c.body)))
		wok, want, wdesc, werr := decodeUpdatesJSON(strings.NewReader(c.body))
		if ok != wok || desc != wdesc || (err == nil) != (werr == nil) || !reflect.DeepEqual(allFacts(got), allFacts(want)) {
			t.Errorf("%.60s: decodeUpdates differs from encoding/json", c.body)
		}
	}
}

func BenchmarkDecodeUpdate(b *testing.B) {
	for _, name := range []string{"start", "text", "callback"} {
		var body []byte
		for _, c := range updateSeeds {
			if c.name == name {
				body = []byte(c.body)
			}
		}
		b.Run(name+"/fast", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decodeUpdate(bytes.NewReader(body)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/encoding-json", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decodeUpdateJSON(bytes.NewReader(body)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
