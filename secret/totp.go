package secret

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"image"
	"image/draw"
	"image/png"
	"net/url"
	"strings"
	"time"

	"github.com/boombuler/barcode"
	"github.com/boombuler/barcode/qr"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
)

// The TOTP parameters of the panel (RFC 6238 with the authenticator apps'
// defaults): HMAC-SHA1, 6 digits, 30-second steps, and one step of clock
// drift accepted either way.
const (
	TOTPDigits    = 6
	TOTPPeriod    = 30 * time.Second
	totpSkew      = 1
	totpSecretLen = 20 // bytes: 160 bits, as RFC 4226 recommends
)

var totpEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewTOTPSecret returns a fresh secret: 20 bytes from crypto/rand in base32
// without padding (32 characters).
func NewTOTPSecret() string {
	b := make([]byte, totpSecretLen)
	if _, err := rand.Read(b); err != nil {
		panic("secret: crypto/rand failed: " + err.Error()) // the platform is broken
	}
	return totpEncoding.EncodeToString(b)
}

// TOTPStep returns the time step t falls in.
func TOTPStep(t time.Time) int64 { return t.Unix() / int64(TOTPPeriod/time.Second) }

// TOTPCode returns the code of a step with the given number of digits (6
// for the panel; RFC 6238's test vectors use 8).
func TOTPCode(secret string, step int64, digits int) (string, error) {
	return hotp.GenerateCodeCustom(secret, uint64(step), hotp.ValidateOpts{
		Digits: otp.Digits(digits), Algorithm: otp.AlgorithmSHA1})
}

// MatchTOTP finds the step, within one step of now's, whose code is code,
// comparing in constant time. It prefers the latest matching step, so a
// caller that refuses steps already used cannot be fooled by a collision
// with an older one. ok is false when no step in the window matches.
func MatchTOTP(secret, code string, now time.Time) (step int64, ok bool) {
	if len(code) != TOTPDigits {
		return 0, false
	}
	cur := TOTPStep(now)
	for s := cur + totpSkew; s >= cur-totpSkew; s-- {
		want, err := TOTPCode(secret, s, TOTPDigits)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return s, true
		}
	}
	return 0, false
}

// OTPAuthURL is the otpauth:// URL an authenticator app imports, in the
// panel's exact form: otpauth://totp/<issuer>:<account>?secret=…&issuer=….
func OTPAuthURL(issuer, account, secret string) string {
	// Spaces become %20 in the query too: some authenticator apps show a
	// "+" literally.
	return "otpauth://totp/" + url.PathEscape(issuer) + ":" + url.PathEscape(account) +
		"?secret=" + secret + "&issuer=" + strings.ReplaceAll(url.QueryEscape(issuer), "+", "%20")
}

// QRCodeDataURI renders text (an otpauth:// URL) as a QR code in a PNG
// data URI, the form a browser shows in an <img> for a phone to scan. Each
// module is a whole number of pixels and the code has the four-module
// quiet zone scanners need, so the image reads reliably at about size
// pixels.
func QRCodeDataURI(text string, size int) (string, error) {
	code, err := qr.Encode(text, qr.M, qr.Auto)
	if err != nil {
		return "", err
	}
	const quiet = 4
	modules := code.Bounds().Dx()
	scale := max(1, size/(modules+2*quiet))
	scaled, err := barcode.Scale(code, modules*scale, modules*scale)
	if err != nil {
		return "", err
	}
	side := (modules + 2*quiet) * scale
	img := image.NewGray(image.Rect(0, 0, side, side))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	draw.Draw(img, image.Rect(quiet*scale, quiet*scale, side-quiet*scale, side-quiet*scale), scaled, scaled.Bounds().Min, draw.Src)
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return "", err
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}
