//go:build ignore

// subset_gen regenerates the embedded font subsets in fonts/ from the Noto
// fonts of Debian's fonts-noto-core and fonts-noto-cjk packages, with
// pyftsubset (Debian's python3-fonttools or fonttools):
//
//	apt-get install fonts-noto-core fonts-noto-cjk python3-fonttools
//	go generate ./internal/typeset
//
// Every script but Chinese is kept whole (its Unicode blocks, with every
// OpenType layout feature, so any text in that script shapes: conjuncts,
// joining, marks). Chinese keeps the 3755 characters of GB 2312 level 1
// (the common ones) plus every Han character the message files use
// (locales/*.toml and the coming languages' drafts in
// typesettest/coming.toml). A test (TestFontsCoverTexts) fails when a text
// needs a character that is not in the subsets: run this again then.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// common are the characters every script's font keeps when it has them:
// spaces, ASCII punctuation and digits, joiners and bidi controls, the
// dotted circle shapers insert for a lone mark.
const common = "U+0020-007E,U+00A0,U+00AB,U+00B7,U+00BB,U+200B-200F,U+2010-2015,U+2018-201F,U+2026,U+2060-2069,U+25CC"

type subset struct {
	out, src string // output name in fonts/, source file
	number   int    // font number in a collection
	unicodes string // ranges kept, besides common
	text     bool   // also keep the characters of the texts (Han)
}

var subsets = []subset{
	{"latin-regular.ttf", "truetype/noto/NotoSans-Regular.ttf", 0,
		"U+00A0-024F,U+0259,U+02B0-02FF,U+0300-036F,U+0400-052F,U+1E00-1EFF,U+2000-206F,U+20A0-20C0,U+2116,U+2122,U+2190-2193,U+2212,U+2264-2265,U+FFFD", false},
	{"latin-bold.ttf", "truetype/noto/NotoSans-Bold.ttf", 0,
		"U+00A0-024F,U+0259,U+02B0-02FF,U+0300-036F,U+0400-052F,U+1E00-1EFF,U+2000-206F,U+20A0-20C0,U+2116,U+2122,U+2190-2193,U+2212,U+2264-2265,U+FFFD", false},
	{"arabic.ttf", "truetype/noto/NotoNaskhArabic-Regular.ttf", 0, "U+0600-06FF,U+0750-077F,U+08A0-08FF,U+FB50-FDFF,U+FE70-FEFF", false},
	{"urdu.ttf", "truetype/noto/NotoNastaliqUrdu-Regular.ttf", 0, "U+0600-06FF,U+0750-077F,U+08A0-08FF,U+FB50-FDFF,U+FE70-FEFF", false},
	{"bengali.ttf", "truetype/noto/NotoSansBengali-Regular.ttf", 0, "U+0980-09FF,U+0964-0965", false},
	{"devanagari.ttf", "truetype/noto/NotoSansDevanagari-Regular.ttf", 0, "U+0900-097F,U+A8E0-A8FF,U+1CD0-1CFF", false},
	{"gurmukhi.ttf", "truetype/noto/NotoSansGurmukhi-Regular.ttf", 0, "U+0A00-0A7F,U+0964-0965", false},
	{"sinhala.ttf", "truetype/noto/NotoSansSinhala-Regular.ttf", 0, "U+0D80-0DFF,U+111E1-111F4", false},
	{"tamil.ttf", "truetype/noto/NotoSansTamil-Regular.ttf", 0, "U+0B80-0BFF,U+11FC0-11FFF,U+0964-0965", false},
	{"ethiopic.ttf", "truetype/noto/NotoSansEthiopic-Regular.ttf", 0, "U+1200-139F,U+2D80-2DDF,U+AB00-AB2F,U+1E7E0-1E7FF", false},
	{"cjk-sc.otf", "opentype/noto/NotoSansCJK-Regular.ttc", 2, "U+3000-303F,U+FF00-FFEF", true},
}

func main() {
	noto := flag.String("noto", "/usr/share/fonts", "where Debian installs the Noto fonts")
	root := flag.String("root", "../..", "the repository root (for locales/)")
	flag.Parse()
	tool, pre := pyftsubset()

	han, err := hanChars(*root)
	if err != nil {
		log.Fatal(err)
	}
	tmp, err := os.CreateTemp("", "needsbot-han-*.txt")
	if err != nil {
		log.Fatal(err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(han); err != nil {
		log.Fatal(err)
	}
	tmp.Close()

	for _, s := range subsets {
		args := append(pre, filepath.Join(*noto, s.src),
			fmt.Sprintf("--font-number=%d", s.number),
			"--unicodes="+common+","+s.unicodes,
			"--no-hinting",
			"--drop-tables+=VORG,vhea,vmtx,DSIG",
			"--name-IDs=*", "--name-languages=*", "--notdef-outline",
			"--output-file="+filepath.Join("fonts", s.out))
		if s.text {
			// Chinese needs no substitutions: its default features
			// (locl, vertical and variant forms) would double the size.
			args = append(args, "--text-file="+tmp.Name(), "--layout-features=kern")
		} else {
			args = append(args, "--layout-features=*")
		}
		cmd := exec.Command(tool, args...)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			log.Fatalf("%s: %v", s.out, err)
		}
		st, _ := os.Stat(filepath.Join("fonts", s.out))
		fmt.Printf("%-20s %8d bytes  (from %s)\n", s.out, st.Size(), s.src)
	}
	if err := licence(); err != nil {
		log.Fatal(err)
	}
}

// pyftsubset finds the subsetter: the pyftsubset command, or the fontTools
// module of the system's python3.
func pyftsubset() (string, []string) {
	if p, err := exec.LookPath("pyftsubset"); err == nil {
		return p, nil
	}
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(py, "-c", "import fontTools.subset").Run() == nil {
			return py, []string{"-m", "fontTools.subset"}
		}
	}
	log.Fatal("no pyftsubset: apt-get install python3-fonttools")
	return "", nil
}

// hanChars returns GB 2312 level 1 and every Han character of the texts.
func hanChars(root string) (string, error) {
	set := map[rune]bool{}
	d := simplifiedchinese.GBK.NewDecoder()
	for hi := 0xB0; hi <= 0xD7; hi++ {
		for lo := 0xA1; lo <= 0xFE; lo++ {
			b, err := d.Bytes([]byte{byte(hi), byte(lo)})
			if err != nil {
				continue
			}
			for _, r := range string(b) {
				if isHan(r) {
					set[r] = true
				}
			}
		}
	}
	files, _ := filepath.Glob(filepath.Join(root, "locales", "*.toml"))
	more, _ := filepath.Glob(filepath.Join("typesettest", "*.toml"))
	for _, f := range append(files, more...) {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		for _, r := range string(b) {
			if isHan(r) || (r >= 0x3000 && r <= 0x303F) || (r >= 0xFF00 && r <= 0xFFEF) {
				set[r] = true
			}
		}
	}
	rs := make([]rune, 0, len(set))
	for r := range set {
		rs = append(rs, r)
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i] < rs[j] })
	return string(rs), nil
}

func isHan(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) || (r >= 0x3400 && r <= 0x4DBF)
}

// licence writes fonts/OFL.txt: the SIL Open Font License 1.1 as Debian
// ships it in fonts-noto-cjk's copyright file, with the fonts' notices.
func licence() error {
	b, err := os.ReadFile("/usr/share/doc/fonts-noto-cjk/copyright")
	if err != nil {
		return err
	}
	var text bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(b))
	in := false
	for sc.Scan() {
		l := sc.Text()
		switch {
		case l == "License: SIL-1.1":
			in = true
			text.Reset()
		case in && strings.HasPrefix(l, " "):
			l = strings.TrimPrefix(l, " ")
			if l == "." {
				l = ""
			}
			text.WriteString(l + "\n")
		default:
			in = false
		}
	}
	if text.Len() < 2000 {
		return fmt.Errorf("OFL text not found in the copyright file (%d bytes)", text.Len())
	}
	head := `The fonts in this directory are subsets of the Noto fonts
(https://notofonts.github.io), as Debian 12 packages them (fonts-noto-core
20201225, fonts-noto-cjk 20220127), made by ../subset_gen.go with pyftsubset
(fontTools). They are Modified Versions under the licence below; the Noto
fonts declare no Reserved Font Name.

Noto Sans, Noto Naskh Arabic, Noto Nastaliq Urdu, Noto Sans Bengali,
Noto Sans Devanagari, Noto Sans Gurmukhi, Noto Sans Sinhala, Noto Sans Tamil,
Noto Sans Ethiopic: Copyright 2012-2020 Google Inc. / Google LLC.
Noto Sans CJK SC: Copyright 2014-2021 Adobe (http://www.adobe.com/).

This Font Software is licensed under the SIL Open Font License, Version 1.1.
This license is copied below, and is also available with a FAQ at
https://openfontlicense.org

`
	return os.WriteFile(filepath.Join("fonts", "OFL.txt"), []byte(head+text.String()), 0o644)
}
