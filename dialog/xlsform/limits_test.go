package xlsform

import (
	"archive/zip"
	"bytes"
	"strings"
	"testing"
)

// TestReadXLSXBoundsUnzippedSize: a workbook that says it unzips to more
// than 64 MB (a zip bomb sent to the bot) is refused before it is
// inflated; excelize's own default would take 16 GB.
func TestReadXLSXBoundsUnzippedSize(t *testing.T) {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "xl/worksheets/sheet1.xml", Method: zip.Store,
		CompressedSize64: 1, UncompressedSize64: maxUnzipped + 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("<")); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = ReadXLSX(bytes.NewReader(b.Bytes()))
	if err == nil || !strings.Contains(err.Error(), "unzip size exceeds") {
		t.Fatalf("ReadXLSX = %v, want the unzip size limit", err)
	}
}
