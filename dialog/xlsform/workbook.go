// Package xlsform reads and writes questionnaires as XLSForm workbooks
// (https://xlsform.org): Import converts a workbook — an .xlsx file, the
// markdown tables of pyxform's test suite, or CSV sheets — into needsbot's
// YAML dialect and go-i18n message files, reporting everything it cannot
// carry over with sheet, row and column; Export writes a loaded
// dialog.Form and its messages back as an .xlsx workbook. docs/xlsform.md
// describes the supported subset.
package xlsform

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/xuri/excelize/v2"
)

// Row is one data row of a sheet: its 1-based row number in the source
// (the header is row 1 of an .xlsx sheet) and its cells by lower-cased
// column header.
type Row struct {
	Num   int
	Cells map[string]string
}

// Get returns the trimmed cell of column col ("" when absent).
func (r Row) Get(col string) string { return strings.TrimSpace(r.Cells[col]) }

// Sheet is one sheet: its column headers (lower-cased, trimmed, in order)
// and its non-empty data rows.
type Sheet struct {
	Name    string
	Columns []string
	Rows    []Row
}

// Workbook is an XLSForm's sheets by lower-cased name, plus the files that
// select_one_from_file rows name (read from beside the workbook).
type Workbook struct {
	File   string // source, for problems
	Sheets map[string]*Sheet
	// Files returns the content of a file named by select_one_from_file,
	// or an error; nil means none can be read.
	Files func(name string) ([]byte, error)
}

// Open reads a workbook: an .xlsx file, a .md file of markdown tables (the
// format of pyxform's tests), a directory of CSV sheets (survey.csv,
// choices.csv, settings.csv) or a .zip of them.
func Open(path string) (*Workbook, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	var wb *Workbook
	switch ext := strings.ToLower(filepath.Ext(path)); {
	case st.IsDir():
		wb, err = readCSVFiles(path, func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(path, name)) })
		dir = path
	case ext == ".xlsx" || ext == ".xlsm":
		var f *os.File
		if f, err = os.Open(path); err != nil {
			return nil, err
		}
		defer f.Close()
		wb, err = ReadXLSX(f)
	case ext == ".md" || ext == ".markdown":
		var src []byte
		if src, err = os.ReadFile(path); err != nil {
			return nil, err
		}
		wb, err = ReadMarkdown(src)
	case ext == ".zip":
		wb, err = readZip(path)
	case ext == ".xls":
		return nil, fmt.Errorf("%s: the old binary .xls format is not supported; save the workbook as .xlsx", path)
	default:
		return nil, fmt.Errorf("%s: not a workbook (.xlsx, .md, a directory or .zip of CSV sheets)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	wb.File = path
	if wb.Files == nil {
		wb.Files = func(name string) ([]byte, error) {
			if filepath.Base(name) != name {
				return nil, fmt.Errorf("file name %q must not contain a directory", name)
			}
			return os.ReadFile(filepath.Join(dir, name))
		}
	}
	return wb, nil
}

// maxUnzipped bounds what an .xlsx may unzip to (excelize's default is
// 16 GB): a questionnaire is a few megabytes at most, and a workbook may
// come from a Telegram upload.
const maxUnzipped = 64 << 20

// ReadXLSX reads every sheet of an .xlsx workbook.
func ReadXLSX(r io.Reader) (*Workbook, error) {
	f, err := excelize.OpenReader(r, excelize.Options{UnzipSizeLimit: maxUnzipped, UnzipXMLSizeLimit: 16 << 20})
	if err != nil {
		return nil, err
	}
	defer f.Close()
	wb := &Workbook{Sheets: map[string]*Sheet{}}
	for _, name := range f.GetSheetList() {
		rows, err := f.GetRows(name, excelize.Options{RawCellValue: true})
		if err != nil {
			return nil, fmt.Errorf("sheet %s: %w", name, err)
		}
		wb.add(name, rows, 1)
	}
	return wb, nil
}

// add turns a grid into a sheet: the first non-empty row is the header,
// empty rows are skipped; first is the number of grid row 0.
func (wb *Workbook) add(name string, grid [][]string, first int) {
	s := &Sheet{Name: strings.ToLower(strings.TrimSpace(name))}
	header := -1
	for i, cells := range grid {
		if blank(cells) {
			continue
		}
		if header < 0 {
			header = i
			for _, c := range cells {
				s.Columns = append(s.Columns, strings.ToLower(strings.TrimSpace(c)))
			}
			continue
		}
		r := Row{Num: first + i, Cells: map[string]string{}}
		for j, c := range cells {
			if j < len(s.Columns) && s.Columns[j] != "" && strings.TrimSpace(c) != "" {
				r.Cells[s.Columns[j]] = c
			} else if strings.TrimSpace(c) != "" {
				// A value under no header: keep it under a column
				// name that the importer reports.
				r.Cells[fmt.Sprintf("(column %d without a header)", j+1)] = c
			}
		}
		s.Rows = append(s.Rows, r)
	}
	wb.Sheets[s.Name] = s
}

func blank(cells []string) bool {
	for _, c := range cells {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// ReadMarkdown reads the markdown tables pyxform's test suite writes
// XLSForms in: a row whose first cell is not empty starts a sheet of that
// name; the other cells of the rows that follow are the sheet's grid, its
// first non-empty row the header. Row numbers are lines of src.
func ReadMarkdown(src []byte) (*Workbook, error) {
	wb := &Workbook{Sheets: map[string]*Sheet{}}
	var name string
	var grid [][]string
	first := 0
	flush := func() {
		if name != "" {
			wb.add(name, grid, first)
		}
	}
	for i, ln := range strings.Split(string(src), "\n") {
		ln = strings.TrimSpace(ln)
		if !strings.HasPrefix(ln, "|") {
			continue
		}
		cells := splitMarkdownRow(ln)
		if len(cells) == 0 {
			continue
		}
		if strings.TrimSpace(cells[0]) != "" {
			flush()
			name, grid, first = strings.TrimSpace(cells[0]), nil, i+1
		}
		if name == "" {
			return nil, fmt.Errorf("line %d: a table row before the first sheet name", i+1)
		}
		// Pad so that grid row k is line first+k.
		for len(grid) < i+1-first {
			grid = append(grid, nil)
		}
		grid = append(grid, cells[1:])
	}
	flush()
	if len(wb.Sheets) == 0 {
		return nil, fmt.Errorf("no markdown table")
	}
	return wb, nil
}

// splitMarkdownRow splits "| a | b |" into its cells; \| is a literal bar.
func splitMarkdownRow(ln string) []string {
	ln = strings.TrimPrefix(ln, "|")
	var cells []string
	var cur strings.Builder
	for i := 0; i < len(ln); i++ {
		switch {
		case ln[i] == '\\' && i+1 < len(ln) && ln[i+1] == '|':
			cur.WriteByte('|')
			i++
		case ln[i] == '|':
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(ln[i])
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		cells = append(cells, s)
	}
	return cells
}

// readCSVFiles reads survey.csv, choices.csv and settings.csv (and any
// other *.csv sheet is not read: select_one_from_file CSVs live beside
// them) through read.
func readCSVFiles(dir string, read func(string) ([]byte, error)) (*Workbook, error) {
	wb := &Workbook{Sheets: map[string]*Sheet{}, Files: read}
	for _, sheet := range []string{"survey", "choices", "settings"} {
		src, err := read(sheet + ".csv")
		if err != nil {
			if sheet == "survey" {
				return nil, fmt.Errorf("no survey.csv in %s", dir)
			}
			continue
		}
		grid, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(src, []byte("\ufeff")))).ReadAll()
		if err != nil {
			return nil, fmt.Errorf("%s.csv: %w", sheet, err)
		}
		wb.add(sheet, grid, 1)
	}
	return wb, nil
}

func readZip(path string) (*Workbook, error) {
	z, err := zip.OpenReader(path)
	if err != nil {
		return nil, err
	}
	defer z.Close()
	files := map[string][]byte{}
	for _, f := range z.File {
		if f.FileInfo().IsDir() || f.UncompressedSize64 > 10<<20 {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(io.LimitReader(rc, 10<<20))
		rc.Close()
		if err != nil {
			return nil, err
		}
		files[strings.ToLower(filepath.Base(f.Name))] = b
	}
	return readCSVFiles(path, func(name string) ([]byte, error) {
		if b, ok := files[strings.ToLower(name)]; ok {
			return b, nil
		}
		return nil, fmt.Errorf("%s: no file %s", path, name)
	})
}
