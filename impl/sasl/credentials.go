package sasl

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"strconv"

	"github.com/xdg-go/scram"
	"github.com/xdg-go/stringprep"
)

// SaltSize is the length in octets of the salts NewCredentials draws.
const SaltSize = 16

// DefaultIterations is the iteration count Options uses when it names none,
// the minimum RFC 7677 §4 asks for SCRAM-SHA-256 (and xdg-go/scram's client
// accepts by default).
const DefaultIterations = 4096

// maxSalt and maxIterations bound what a stored record may hold.
const (
	maxSalt       = 1024
	maxIterations = 1 << 24
)

// HashCredentials is what SCRAM stores for one hash (RFC 5802 §3): the salt
// and iteration count of the PBKDF2 derivation, StoredKey = H(ClientKey) and
// ServerKey. They let a server check a client's proof and prove itself, but
// not recover the password. A zero HashCredentials means the account has no
// credential for the hash.
//
// Printing a HashCredentials with any fmt verb, or logging it with log/slog,
// shows the iteration count only; MarshalJSON is redacted the same way.
type HashCredentials struct {
	Salt       []byte
	Iterations int
	StoredKey  []byte
	ServerKey  []byte
}

// Credentials are the SCRAM credentials of one account, one per hash. They
// hold no password. Encode them for a store with MarshalBinary and decode
// with UnmarshalBinary.
//
// Printing Credentials with any fmt verb (%v, %+v, %#v, %s, %x, …), logging
// them with log/slog or marshalling them to JSON shows which hashes are
// present and their iteration counts, never a salt or a key.
type Credentials struct {
	SHA1, SHA256 HashCredentials
}

// hashes names the hash functions of SCRAM-SHA-1 and SCRAM-SHA-256.
type hashKind uint8

const (
	hashSHA1   hashKind = 1
	hashSHA256 hashKind = 2
)

func (h hashKind) new() hash.Hash {
	if h == hashSHA1 {
		return sha1.New()
	}
	return sha256.New()
}

func (h hashKind) size() int {
	if h == hashSHA1 {
		return sha1.Size
	}
	return sha256.Size
}

func (h hashKind) scram() scram.HashGeneratorFcn {
	if h == hashSHA1 {
		return scram.SHA1
	}
	return scram.SHA256
}

func (h hashKind) String() string {
	if h == hashSHA1 {
		return "SHA-1"
	}
	return "SHA-256"
}

// forHash returns the credential of hash h.
func (c *Credentials) forHash(h hashKind) *HashCredentials {
	if h == hashSHA1 {
		return &c.SHA1
	}
	return &c.SHA256
}

// saslprep prepares s with SASLprep (RFC 4013) as a stored string.
func saslprep(s string) (string, error) {
	return stringprep.SASLprep.Prepare(s)
}

// ErrPassword is returned by NewCredentials for a password that SASLprep
// rejects or that is empty after preparation. It names no character of the
// password.
var ErrPassword = errors.New("sasl: password is empty or not allowed by SASLprep")

// NewCredentials derives the SCRAM-SHA-1 and SCRAM-SHA-256 credentials of
// password, prepared with SASLprep, each with its own salt of SaltSize
// octets read from rand (crypto/rand when rand is nil) and iterations
// iterations of PBKDF2. The password itself is not kept.
func NewCredentials(password string, iterations int, rand io.Reader) (Credentials, error) {
	if iterations < 1 || iterations > maxIterations {
		return Credentials{}, fmt.Errorf("sasl: iteration count %d out of range 1…%d", iterations, maxIterations)
	}
	prepped, err := saslprep(password)
	if err != nil || prepped == "" {
		return Credentials{}, ErrPassword
	}
	var c Credentials
	for _, h := range [...]hashKind{hashSHA1, hashSHA256} {
		salt, err := readSalt(rand)
		if err != nil {
			return Credentials{}, err
		}
		hc, err := derive(h, prepped, salt, iterations)
		if err != nil {
			return Credentials{}, err
		}
		*c.forHash(h) = hc
	}
	return c, nil
}

func readSalt(r io.Reader) ([]byte, error) {
	salt := make([]byte, SaltSize)
	if r == nil {
		rand.Read(salt) // never fails (crypto/rand crashes the program instead)
		return salt, nil
	}
	if _, err := io.ReadFull(r, salt); err != nil {
		return nil, fmt.Errorf("sasl: reading salt: %w", err)
	}
	return salt, nil
}

// derive computes the stored keys of the prepared password (RFC 5802 §3):
// SaltedPassword = Hi(password, salt, i), ClientKey = HMAC(SaltedPassword,
// "Client Key"), StoredKey = H(ClientKey), ServerKey = HMAC(SaltedPassword,
// "Server Key").
func derive(h hashKind, prepped string, salt []byte, iterations int) (HashCredentials, error) {
	clientKey, serverKey, err := clientServerKeys(h, prepped, salt, iterations)
	if err != nil {
		return HashCredentials{}, err
	}
	stored := h.new()
	stored.Write(clientKey)
	return HashCredentials{
		Salt:       append([]byte(nil), salt...),
		Iterations: iterations,
		StoredKey:  stored.Sum(nil),
		ServerKey:  serverKey,
	}, nil
}

func clientServerKeys(h hashKind, prepped string, salt []byte, iterations int) (clientKey, serverKey []byte, err error) {
	salted, err := pbkdf2.Key(h.new, prepped, salt, iterations, h.size())
	if err != nil {
		return nil, nil, fmt.Errorf("sasl: deriving %v key: %w", h, err)
	}
	return hmacSum(h, salted, "Client Key"), hmacSum(h, salted, "Server Key"), nil
}

func hmacSum(h hashKind, key []byte, data string) []byte {
	mac := hmac.New(h.new, key)
	io.WriteString(mac, data)
	return mac.Sum(nil)
}

// Verify reports whether password, prepared with SASLprep, is the one the
// credentials were derived from. It recomputes StoredKey with the stored
// salt and iteration count (of SHA-256, or of SHA-1 when the account has
// no SHA-256 credential) and compares in constant time. It costs one
// PBKDF2 derivation.
func (c Credentials) Verify(password string) bool {
	prepped, err := saslprep(password)
	if err != nil || prepped == "" {
		return false
	}
	return c.verifyPrepped(prepped)
}

func (c Credentials) verifyPrepped(prepped string) bool {
	h := hashSHA256
	if !c.SHA256.valid(h) {
		h = hashSHA1
	}
	hc := c.forHash(h)
	if !hc.valid(h) {
		return false
	}
	got, err := derive(h, prepped, hc.Salt, hc.Iterations)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(got.StoredKey, hc.StoredKey) == 1
}

// valid reports whether hc is a usable credential of hash h.
func (hc *HashCredentials) valid(h hashKind) bool {
	return hc.Iterations >= 1 && hc.Iterations <= maxIterations &&
		len(hc.Salt) > 0 && len(hc.Salt) <= maxSalt &&
		len(hc.StoredKey) == h.size() && len(hc.ServerKey) == h.size()
}

func (hc *HashCredentials) scram() scram.StoredCredentials {
	return scram.StoredCredentials{
		KeyFactors: scram.KeyFactors{Salt: string(hc.Salt), Iters: hc.Iterations},
		StoredKey:  hc.StoredKey,
		ServerKey:  hc.ServerKey,
	}
}

// The binary encoding, version 1 (all integers big-endian):
//
//	version  1 octet, 1
//	count    1 octet, the number of records that follow (0…2)
//	record:  hash       1 octet: 1 SHA-1, 2 SHA-256 (each at most once,
//	                    in increasing order)
//	         iterations 4 octets, 1…2^24
//	         salt len   2 octets, 1…1024, then the salt
//	         StoredKey  the hash's size (20 or 32 octets)
//	         ServerKey  the hash's size
//
// A hash whose credential is zero has no record. Nothing may follow the
// last record.
const encodingVersion = 1

// ErrEncoding is returned (wrapped) by UnmarshalBinary for data that is not
// an encoding of Credentials.
var ErrEncoding = errors.New("sasl: bad credentials encoding")

// MarshalBinary encodes c for a store in the stable format documented in
// this file (version 1). It fails for a credential that is neither zero nor
// complete.
func (c Credentials) MarshalBinary() ([]byte, error) {
	out := []byte{encodingVersion, 0}
	for _, h := range [...]hashKind{hashSHA1, hashSHA256} {
		hc := c.forHash(h)
		if hc.isZero() {
			continue
		}
		if !hc.valid(h) {
			return nil, fmt.Errorf("sasl: incomplete %v credential", h)
		}
		out[1]++
		out = append(out, byte(h))
		out = binary.BigEndian.AppendUint32(out, uint32(hc.Iterations))
		out = binary.BigEndian.AppendUint16(out, uint16(len(hc.Salt)))
		out = append(out, hc.Salt...)
		out = append(out, hc.StoredKey...)
		out = append(out, hc.ServerKey...)
	}
	return out, nil
}

// UnmarshalBinary decodes what MarshalBinary encoded, replacing c.
func (c *Credentials) UnmarshalBinary(data []byte) error {
	bad := func(what string) error { return fmt.Errorf("%w: %s", ErrEncoding, what) }
	if len(data) < 2 {
		return bad("too short")
	}
	if data[0] != encodingVersion {
		return bad("unknown version " + strconv.Itoa(int(data[0])))
	}
	n := int(data[1])
	if n > 2 {
		return bad("too many records")
	}
	data = data[2:]
	var out Credentials
	last := hashKind(0)
	for range n {
		if len(data) < 7 {
			return bad("truncated record")
		}
		h := hashKind(data[0])
		if (h != hashSHA1 && h != hashSHA256) || h <= last {
			return bad("unknown or repeated hash")
		}
		last = h
		iters := binary.BigEndian.Uint32(data[1:5])
		saltLen := int(binary.BigEndian.Uint16(data[5:7]))
		data = data[7:]
		if len(data) < saltLen+2*h.size() {
			return bad("truncated record")
		}
		hc := HashCredentials{
			Iterations: int(iters),
			Salt:       append([]byte(nil), data[:saltLen]...),
			StoredKey:  append([]byte(nil), data[saltLen:saltLen+h.size()]...),
			ServerKey:  append([]byte(nil), data[saltLen+h.size():saltLen+2*h.size()]...),
		}
		if iters < 1 || iters > maxIterations || !hc.valid(h) {
			return bad("bad iteration count or salt length")
		}
		*out.forHash(h) = hc
		data = data[saltLen+2*h.size():]
	}
	if len(data) != 0 {
		return bad("trailing data")
	}
	*c = out
	return nil
}

func (hc *HashCredentials) isZero() bool {
	return hc.Iterations == 0 && len(hc.Salt) == 0 && len(hc.StoredKey) == 0 && len(hc.ServerKey) == 0
}

// describe is the redacted form of hc.
func (hc HashCredentials) describe() string {
	if hc.isZero() {
		return "none"
	}
	return strconv.Itoa(hc.Iterations) + " iterations, keys redacted"
}

// String returns a description without key material.
func (hc HashCredentials) String() string {
	return "sasl.HashCredentials{" + hc.describe() + "}"
}

// GoString returns a description without key material.
func (hc HashCredentials) GoString() string {
	return "sasl.HashCredentials{Iterations: " + strconv.Itoa(hc.Iterations) + " /* salt and keys redacted */}"
}

// Format prints hc without key material, whatever the verb.
func (hc HashCredentials) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		io.WriteString(f, hc.GoString())
		return
	}
	io.WriteString(f, hc.String())
}

// LogValue logs hc without key material.
func (hc HashCredentials) LogValue() slog.Value {
	return slog.StringValue(hc.String())
}

// MarshalJSON returns a redacted description: JSON is no store encoding
// (use Credentials.MarshalBinary), so that a log line can't leak keys.
func (hc HashCredentials) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(hc.describe())), nil
}

// String returns a description without key material.
func (c Credentials) String() string {
	return "sasl.Credentials{SHA-1: " + c.SHA1.describe() + "; SHA-256: " + c.SHA256.describe() + "}"
}

// GoString returns a description without key material.
func (c Credentials) GoString() string {
	return "sasl.Credentials{SHA1: " + c.SHA1.GoString() + ", SHA256: " + c.SHA256.GoString() + "}"
}

// Format prints c without key material, whatever the verb.
func (c Credentials) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		io.WriteString(f, c.GoString())
		return
	}
	io.WriteString(f, c.String())
}

// LogValue logs c without key material.
func (c Credentials) LogValue() slog.Value {
	return slog.StringValue(c.String())
}

// MarshalJSON returns a redacted description: JSON is no store encoding
// (use MarshalBinary), so that a log line can't leak keys.
func (c Credentials) MarshalJSON() ([]byte, error) {
	return []byte(`{"SHA1":` + strconv.Quote(c.SHA1.describe()) + `,"SHA256":` + strconv.Quote(c.SHA256.describe()) + `}`), nil
}
