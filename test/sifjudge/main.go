// sifjudge: the SIF library's own pkg/integrity (the code `apptainer sign` and `apptainer
// verify` run), as a judge of the signatures casa_distro_admin writes and reads. Built by
// test/helpers/sifJudge.ts from Debian's golang-go and golang-github-sylabs-sif-dev.
//
//	sifjudge genkey NAME DIR   write an Apptainer-style keyring (DIR/pgp-secret, DIR/pgp-public,
//	                           binary as Apptainer stores them) and armored copies (DIR/secret.asc,
//	                           DIR/public.asc); print the fingerprint
//	sifjudge sign SIF KEYRING  sign every object group with the first key of KEYRING
//	sifjudge verify SIF KEYRING  verify every signature; print "verified by FPR..." or the error
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/sylabs/sif/v2/pkg/integrity"
	"github.com/sylabs/sif/v2/pkg/sif"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

// readKeyRing reads binary (Apptainer's own files) or armored (gpg --export --armor) keys.
func readKeyRing(path string) openpgp.EntityList {
	data, err := os.ReadFile(path)
	if err != nil {
		fail("%v", err)
	}
	var list openpgp.EntityList
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN")) {
		list, err = openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
	} else {
		list, err = openpgp.ReadKeyRing(bytes.NewReader(data))
	}
	if err != nil {
		fail("reading %s: %v", path, err)
	}
	return list
}

func writeFile(path string, write func(*bufio.Writer) error) {
	f, err := os.Create(path)
	if err != nil {
		fail("%v", err)
	}
	w := bufio.NewWriter(f)
	if err := write(w); err != nil {
		fail("%v", err)
	}
	if err := w.Flush(); err != nil {
		fail("%v", err)
	}
	f.Close()
}

func armored(path, kind string, serialize func(*bufio.Writer) error) {
	writeFile(path, func(w *bufio.Writer) error {
		a, err := armor.Encode(w, kind, nil)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		bw := bufio.NewWriter(&buf)
		if err := serialize(bw); err != nil {
			return err
		}
		bw.Flush()
		if _, err := a.Write(buf.Bytes()); err != nil {
			return err
		}
		return a.Close()
	})
}

func main() {
	if len(os.Args) < 4 {
		fail("usage: sifjudge genkey NAME DIR | sign SIF KEYRING | verify SIF KEYRING")
	}
	switch os.Args[1] {
	case "genkey":
		e, err := openpgp.NewEntity(os.Args[2], "sifjudge", strings.ToLower(os.Args[2])+"@example.org", nil)
		if err != nil {
			fail("%v", err)
		}
		dir := os.Args[3]
		writeFile(filepath.Join(dir, "pgp-secret"), func(w *bufio.Writer) error { return e.SerializePrivate(w, nil) })
		writeFile(filepath.Join(dir, "pgp-public"), func(w *bufio.Writer) error { return e.Serialize(w) })
		armored(filepath.Join(dir, "secret.asc"), openpgp.PrivateKeyType, func(w *bufio.Writer) error { return e.SerializePrivate(w, nil) })
		armored(filepath.Join(dir, "public.asc"), openpgp.PublicKeyType, func(w *bufio.Writer) error { return e.Serialize(w) })
		fmt.Printf("%X\n", e.PrimaryKey.Fingerprint)
	case "sign":
		keys := readKeyRing(os.Args[3])
		f, err := sif.LoadContainerFromPath(os.Args[2], sif.OptLoadWithFlag(os.O_RDWR))
		if err != nil {
			fail("%v", err)
		}
		s, err := integrity.NewSigner(f, integrity.OptSignWithEntity(keys[0]))
		if err != nil {
			fail("%v", err)
		}
		if err := s.Sign(); err != nil {
			fail("%v", err)
		}
		if err := f.UnloadContainer(); err != nil {
			fail("%v", err)
		}
		fmt.Printf("signed by %X\n", keys[0].PrimaryKey.Fingerprint)
	case "verify":
		keys := readKeyRing(os.Args[3])
		f, err := sif.LoadContainerFromPath(os.Args[2], sif.OptLoadWithFlag(os.O_RDONLY))
		if err != nil {
			fail("%v", err)
		}
		defer f.UnloadContainer()
		v, err := integrity.NewVerifier(f, integrity.OptVerifyWithKeyRing(keys))
		if err != nil {
			fail("%v", err)
		}
		if err := v.Verify(); err != nil {
			fail("%v", err)
		}
		fps, err := v.AllSignedBy()
		if err != nil {
			fail("%v", err)
		}
		for _, fp := range fps {
			fmt.Printf("verified by %X\n", fp)
		}
	default:
		fail("unknown command %s", os.Args[1])
	}
}
