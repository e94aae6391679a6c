package secret

import (
	"bytes"
	"encoding/base64"
	"image/png"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// TestQRCodeReadsBack renders the setup URL of many fresh secrets and reads
// each image back with a QR decoder: every one must scan to exactly its
// URL, whatever the QR version the URL's length picks.
func TestQRCodeReadsBack(t *testing.T) {
	for i := range 200 {
		account := strings.Repeat("a", i%120) + "@example.com"
		url := OTPAuthURL("Game Panel", account, NewTOTPSecret())
		uri, err := QRCodeDataURI(url, 256)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(uri, "data:image/png;base64,"))
		if err != nil || !strings.HasPrefix(uri, "data:image/png;base64,") {
			t.Fatalf("not a PNG data URI: %.40s… (%v)", uri, err)
		}
		img, err := png.Decode(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if b := img.Bounds(); b.Dx() != b.Dy() || b.Dx() < 128 || b.Dx() > 300 {
			t.Errorf("image %v: want a square of about 256 pixels", b)
		}
		bmp, err := gozxing.NewBinaryBitmapFromImage(img)
		if err != nil {
			t.Fatal(err)
		}
		// The image is a pure code (code and quiet zone, nothing else), as
		// a phone sees it on screen; the decoder's photo-oriented finder
		// search occasionally misses a valid code, so it is told so.
		res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
		if err != nil {
			t.Fatalf("%s: unreadable: %v", url, err)
		}
		if res.GetText() != url {
			t.Fatalf("read %q, want %q", res.GetText(), url)
		}
	}
}
