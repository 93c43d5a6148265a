package telegramtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// maxRequestBody bounds a request body: Telegram takes documents up to 50 MB.
const maxRequestBody = 50<<20 + 1<<20

// apiError is a Bot API error answer.
type apiError struct {
	code       int
	desc       string
	retryAfter int
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s", e.code, e.desc) }

func badRequest(format string, args ...any) *apiError {
	return &apiError{code: http.StatusBadRequest, desc: "Bad Request: " + fmt.Sprintf(format, args...)}
}

func forbidden(desc string) *apiError {
	return &apiError{code: http.StatusForbidden, desc: "Forbidden: " + desc}
}

func conflict(desc string) *apiError {
	return &apiError{code: http.StatusConflict, desc: "Conflict: " + desc}
}

func tooManyRequests(retryAfter int) *apiError {
	return &apiError{
		code:       http.StatusTooManyRequests,
		desc:       fmt.Sprintf("Too Many Requests: retry after %d", retryAfter),
		retryAfter: retryAfter,
	}
}

func notFound() *apiError { return &apiError{code: http.StatusNotFound, desc: "Not Found"} }

// upload is a file sent in a multipart request.
type upload struct {
	name string
	data []byte
}

// params are a request's parameters, whatever their encoding. Scalars are kept
// as text; JSON-encoded objects and arrays as their JSON text, which is how
// multipart and form clients send them anyway.
type params struct {
	values map[string]string
	files  map[string]upload
}

func (p params) has(key string) bool { _, ok := p.values[key]; return ok }

func (p params) str(key string) string { return p.values[key] }

func (p params) int64(key string) (int64, bool, *apiError) {
	s, ok := p.values[key]
	if !ok || s == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, true, badRequest("invalid %s specified", key)
	}
	return n, true, nil
}

func (p params) int(key string) (int, bool, *apiError) {
	n, ok, err := p.int64(key)
	return int(n), ok, err
}

func (p params) bool(key string) bool {
	switch strings.ToLower(strings.TrimSpace(p.values[key])) {
	case "true", "1":
		return true
	}
	return false
}

// parseParams reads the query string and a multipart, URL-encoded or JSON
// body. An empty body is no parameters, whatever its declared type:
// go-telegram/bot sends methods without parameters (getMe, getWebhookInfo) as
// multipart/form-data with nothing in it.
func parseParams(r *http.Request) (params, *apiError) {
	p := params{values: map[string]string{}, files: map[string]upload{}}
	for k, v := range r.URL.Query() {
		if len(v) > 0 {
			p.values[k] = v[0]
		}
	}
	if r.Body == nil {
		return p, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		return p, badRequest("can't read request body: %v", err)
	}
	if len(body) > maxRequestBody {
		return p, &apiError{code: http.StatusRequestEntityTooLarge, desc: "Request Entity Too Large"}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return p, nil
	}
	mediaType, mparams, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mediaType {
	case "multipart/form-data":
		form, err := multipart.NewReader(bytes.NewReader(body), mparams["boundary"]).ReadForm(maxRequestBody)
		if err != nil {
			return p, badRequest("can't parse multipart/form-data request: %v", err)
		}
		defer form.RemoveAll()
		for k, v := range form.Value {
			if len(v) > 0 {
				p.values[k] = v[0]
			}
		}
		for k, fhs := range form.File {
			if len(fhs) == 0 {
				continue
			}
			f, err := fhs[0].Open()
			if err != nil {
				return p, badRequest("can't read file %s: %v", k, err)
			}
			data, err := io.ReadAll(f)
			f.Close()
			if err != nil {
				return p, badRequest("can't read file %s: %v", k, err)
			}
			p.files[k] = upload{name: fhs[0].Filename, data: data}
		}
	case "application/json":
		if err := p.addJSON(body); err != nil {
			return p, err
		}
	default: // application/x-www-form-urlencoded, or undeclared
		values, err := url.ParseQuery(string(body))
		if err != nil {
			return p, badRequest("can't parse form: %v", err)
		}
		for k, v := range values {
			if len(v) > 0 {
				p.values[k] = v[0]
			}
		}
	}
	return p, nil
}

// addJSON adds the fields of a JSON object: strings unquoted, anything else
// as its JSON text.
func (p params) addJSON(body []byte) *apiError {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return badRequest("can't parse JSON object")
	}
	for k, raw := range obj {
		raw = bytes.TrimSpace(raw)
		switch {
		case bytes.Equal(raw, []byte("null")):
		case len(raw) > 0 && raw[0] == '"':
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return badRequest("can't parse JSON object")
			}
			p.values[k] = s
		default:
			p.values[k] = string(raw)
		}
	}
	return nil
}
