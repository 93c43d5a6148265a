package telegramtest

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/go-telegram/bot/models"
)

// getFile answers the file's metadata with a file_path the bot can download
// from {URL}/file/bot{token}/{file_path}.
func (s *Server) getFile(c *call) (any, *apiError) {
	id := c.p.str("file_id")
	if id == "" {
		return nil, badRequest("file_id is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.files[id]
	if f == nil {
		return nil, badRequest("invalid file_id")
	}
	return &models.File{FileID: f.ID, FileUniqueID: f.UniqueID, FileSize: int64(len(f.Data)), FilePath: filePath(f)}, nil
}

func filePath(f *File) string { return "documents/" + f.ID }

// serveFile answers a file download: rest is "{token}/{file_path}".
func (s *Server) serveFile(w http.ResponseWriter, rest string) {
	token, path, ok := strings.Cut(rest, "/")
	if !ok || token != s.cfg.token {
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	id, ok := strings.CutPrefix(path, "documents/")
	s.mu.Lock()
	f := s.files[id]
	var data []byte
	mime := ""
	if f != nil {
		data, mime = f.Data, f.MIME
	}
	s.mu.Unlock()
	if !ok || f == nil {
		http.Error(w, "Not Found", http.StatusNotFound)
		return
	}
	if mime == "" {
		mime = "application/octet-stream"
	}
	w.Header().Set("Content-Type", mime)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	_, _ = w.Write(data)
}
