package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	tgmodels "github.com/go-telegram/bot/models"
)

// headerWriter is an http.ResponseWriter that keeps only the status.
type headerWriter struct {
	h    http.Header
	code int
}

func (w *headerWriter) Header() http.Header         { return w.h }
func (w *headerWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *headerWriter) WriteHeader(code int)        { w.code = code }

// BenchmarkWebhookIntake measures the intake's own path for one update:
// the webhook request read, decoded and queued in its chat's mailbox, the
// mailbox's goroutine handling it (an edited group message: the handler
// does nothing with it) and the response written. Each update is a chat
// of its own, as in a crowd of respondents.
func BenchmarkWebhookIntake(b *testing.B) {
	in := NewIntake(NewHandler(Config{}), IntakeOptions{})
	defer in.Stop()
	h := in.Webhook("s3cret")
	bodies := make([][]byte, 256)
	for i := range bodies {
		bodies[i] = fmt.Appendf(nil, `{"update_id":%d,"edited_message":{"message_id":1,"from":{"id":%d,"is_bot":false,"first_name":"A","language_code":"it"},`+
			`"chat":{"id":-%d,"title":"g","type":"group"},"date":1700000000,"edit_date":1700000001,"text":"hello"}}`, i+1, i+1, i+1)
	}
	b.Run("serial", func(b *testing.B) {
		req := httptest.NewRequest(http.MethodPost, "/hook", nil)
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", "s3cret")
		w := &headerWriter{h: http.Header{}}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			req.Body = io.NopCloser(bytes.NewReader(bodies[i%len(bodies)]))
			i++
			h.ServeHTTP(w, req)
			if w.code != 0 {
				b.Fatalf("status %d", w.code)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			req := httptest.NewRequest(http.MethodPost, "/hook", nil)
			req.Header.Set("X-Telegram-Bot-Api-Secret-Token", "s3cret")
			w := &headerWriter{h: http.Header{}}
			i := 0
			for pb.Next() {
				req.Body = io.NopCloser(bytes.NewReader(bodies[i%len(bodies)]))
				i++
				h.ServeHTTP(w, req)
				if w.code != 0 {
					b.Errorf("status %d", w.code)
					return
				}
			}
		})
	})
}

func TestAnswerBodyIsEncodingJSONs(t *testing.T) {
	for _, ans := range []CallbackAnswer{
		{QueryID: "4382bfdwdsb323b2d9"},
		{QueryID: "1", Text: "Please wait a moment"},
		{QueryID: "x\"y", Text: "<b>é & \u2028 \\ \n</b>"},
		{QueryID: "", Text: "\xff"},
	} {
		body := map[string]any{"method": "answerCallbackQuery", "callback_query_id": ans.QueryID}
		if ans.Text != "" {
			body["text"] = ans.Text
		}
		var want bytes.Buffer
		_ = json.NewEncoder(&want).Encode(body)
		if got := answerBody(&ans); string(got) != want.String() {
			t.Errorf("answerBody(%+v) = %s, want %s", ans, got, want.String())
		}
	}
}

// A mailbox goroutine that is done waits for the next mailbox instead of
// exiting (its grown stack is kept); Stop ends the waiting ones.
func TestMailboxGoroutinesAreReused(t *testing.T) {
	in := NewIntake(NewHandler(Config{}), IntakeOptions{Workers: 2})
	idle := func(n int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			in.mu.Lock()
			got := len(in.idle)
			in.mu.Unlock()
			if got == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d idle mailbox goroutines, want %d", got, n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	group := func(id, chat int64) *Update {
		return updateOf(&tgmodels.Update{ID: id, EditedMessage: &tgmodels.Message{ID: 1, Chat: tgmodels.Chat{ID: -chat, Type: tgmodels.ChatTypeGroup}}})
	}
	for i := int64(1); i <= 20; i++ {
		if _, err := in.Submit(context.Background(), group(i, i), false, 0); err != nil {
			t.Fatal(err)
		}
		idle(1)
	}
	in.mu.Lock()
	started := in.drainers
	in.mu.Unlock()
	if started != 1 {
		t.Fatalf("%d mailbox goroutines started for 20 chats one after the other, want 1", started)
	}
	stopped := make(chan struct{})
	go func() { in.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("Stop does not end an idle mailbox goroutine")
	}
	idle(0)
}
