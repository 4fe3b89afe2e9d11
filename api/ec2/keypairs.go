package ec2

import (
	"crypto/ed25519"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/banyancloud/banyan/api/service"
	"github.com/banyancloud/banyan/cluster/state"
)

// Key pairs. Only the public half is recorded: CreateKeyPair hands the private key to
// the caller once. Fingerprints are EC2's: for a key EC2 made, the SHA-1 of the PKCS#8
// private key; for an imported RSA key, the MD5 of its DER public key; for ED25519 keys,
// the base64 SHA-256 of the OpenSSH public key, as `ssh-keygen -l` prints it.

const maxKeyNameLen = 255

func checkKeyName(name string) error {
	if name == "" {
		return errMissingParameter("The request must contain the parameter KeyName")
	}
	if len(name) > maxKeyNameLen {
		return errInvalidParameterValue("Value (%s) for parameter keyName is invalid. Length exceeds maximum of %d characters.", name, maxKeyNameLen)
	}
	for _, r := range name {
		if r < 0x20 || r > 0x7e {
			return errInvalidParameterValue("Value (%s) for parameter keyName is invalid. Character sets beyond ASCII are not supported.", name)
		}
	}
	return nil
}

func (f *front) createKeyPair(c *service.Call, in *CreateKeyPairRequest) (*KeyPair, error) {
	if err := f.authorize(c, "CreateKeyPair", in.DryRun, f.arn(c, "key-pair", in.KeyName)); err != nil {
		return nil, err
	}
	if err := checkKeyName(in.KeyName); err != nil {
		return nil, err
	}
	if fm := deref(in.KeyFormat); fm != "" && fm != "pem" {
		return nil, errInvalidParameterValue("Value (%s) for parameter keyFormat is invalid. This cloud makes keys in pem format only.", fm)
	}
	tags, err := specTags(in.TagSpecifications, "key-pair")
	if err != nil {
		return nil, err
	}
	kind := deref(in.KeyType)
	var material, fingerprint string
	var pub ssh.PublicKey
	switch kind {
	case "", "rsa":
		kind = "rsa"
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, err
		}
		fingerprint = colonHex(sha1Sum(pkcs8))
		material = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
		if pub, err = ssh.NewPublicKey(&key.PublicKey); err != nil {
			return nil, err
		}
	case "ed25519":
		pk, sk, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		block, err := ssh.MarshalPrivateKey(sk, "")
		if err != nil {
			return nil, err
		}
		material = string(pem.EncodeToMemory(block))
		if pub, err = ssh.NewPublicKey(pk); err != nil {
			return nil, err
		}
		fingerprint = sha256Fingerprint(pub)
	default:
		return nil, errInvalidParameterValue("Value (%s) for parameter keyType is invalid. Valid values are rsa and ed25519.", kind)
	}
	kp, err := f.putKeyPair(c, in.KeyName, kind, fingerprint, pub, tags)
	if err != nil {
		return nil, err
	}
	return &KeyPair{KeyPairId: ptr(kp.ID), KeyName: ptr(kp.Name), KeyFingerprint: ptr(kp.Fingerprint),
		KeyMaterial: ptr(material), Tags: tagList(kp.Tags)}, nil
}

func (f *front) importKeyPair(c *service.Call, in *ImportKeyPairRequest) (*ImportKeyPairResult, error) {
	if err := f.authorize(c, "ImportKeyPair", in.DryRun, f.arn(c, "key-pair", in.KeyName)); err != nil {
		return nil, err
	}
	if err := checkKeyName(in.KeyName); err != nil {
		return nil, err
	}
	if len(in.PublicKeyMaterial) == 0 {
		return nil, errMissingParameter("The request must contain the parameter PublicKeyMaterial")
	}
	tags, err := specTags(in.TagSpecifications, "key-pair")
	if err != nil {
		return nil, err
	}
	pub, err := parsePublicKey(in.PublicKeyMaterial)
	if err != nil {
		return nil, errKeyFormat("Key is not in valid OpenSSH public key format")
	}
	var kind, fingerprint string
	switch pub.Type() {
	case ssh.KeyAlgoRSA:
		kind = "rsa"
		ck, ok := pub.(ssh.CryptoPublicKey)
		if !ok {
			return nil, errKeyFormat("Key is not in valid OpenSSH public key format")
		}
		rk, ok := ck.CryptoPublicKey().(*rsa.PublicKey)
		if !ok || rk.N.BitLen() < 1024 || rk.N.BitLen() > 4096 {
			return nil, errInvalidParameterValue("RSA keys must be 1024 to 4096 bits long")
		}
		der, err := x509.MarshalPKIXPublicKey(rk)
		if err != nil {
			return nil, errKeyFormat("Key is not in valid OpenSSH public key format")
		}
		sum := md5.Sum(der)
		fingerprint = colonHex(sum[:])
	case ssh.KeyAlgoED25519:
		kind = "ed25519"
		fingerprint = sha256Fingerprint(pub)
	default:
		return nil, errInvalidParameterValue("Key type %s is not supported: import an RSA or ED25519 key", pub.Type())
	}
	kp, err := f.putKeyPair(c, in.KeyName, kind, fingerprint, pub, tags)
	if err != nil {
		return nil, err
	}
	return &ImportKeyPairResult{KeyPairId: ptr(kp.ID), KeyName: ptr(kp.Name), KeyFingerprint: ptr(kp.Fingerprint), Tags: tagList(kp.Tags)}, nil
}

// parsePublicKey reads the three forms EC2 imports: OpenSSH (authorized_keys), SSH2
// (RFC 4716) and base64 DER.
func parsePublicKey(b []byte) (ssh.PublicKey, error) {
	if pub, _, _, _, err := ssh.ParseAuthorizedKey(b); err == nil {
		return pub, nil
	}
	text := strings.TrimSpace(string(b))
	if strings.HasPrefix(text, "---- BEGIN SSH2 PUBLIC KEY ----") {
		var body strings.Builder
		cont := false
		for _, line := range strings.Split(text, "\n")[1:] {
			line = strings.TrimSpace(line)
			switch {
			case strings.HasPrefix(line, "---- END"):
			case cont || strings.Contains(line, ":"):
				cont = strings.HasSuffix(line, `\`)
			default:
				body.WriteString(line)
			}
		}
		raw, err := base64.StdEncoding.DecodeString(body.String())
		if err != nil {
			return nil, err
		}
		return ssh.ParsePublicKey(raw)
	}
	der, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		return nil, err
	}
	key, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, err
	}
	return ssh.NewPublicKey(key)
}

func (f *front) putKeyPair(c *service.Call, name, kind, fingerprint string, pub ssh.PublicKey, tags map[string]string) (*state.KeyPair, error) {
	kp := state.KeyPair{Account: c.Caller.AccountID, Name: name, ID: f.deps.NewID("key-"), Type: kind,
		Fingerprint: fingerprint, PublicKey: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))) + " " + name,
		Created: f.deps.Now(), Tags: tags}
	if _, err := f.cluster.Apply(c.Ctx, &state.PutKeyPair{KeyPair: kp}, nil); err != nil {
		return nil, err
	}
	return &kp, nil
}

var keyPairFilters = []string{"key-pair-id", "key-name", "fingerprint", "key-type", "tag-key"}

func (f *front) describeKeyPairs(c *service.Call, in *DescribeKeyPairsRequest) (*DescribeKeyPairsResult, error) {
	if err := f.authorize(c, "DescribeKeyPairs", in.DryRun); err != nil {
		return nil, err
	}
	fs, err := parseFilters(in.Filters, keyPairFilters...)
	if err != nil {
		return nil, err
	}
	listKeys := func() ([]*state.KeyPair, error) { return f.st().KeyPairs(c.Caller.AccountID) }
	notFound := func(id string) error { return errKeyPairNotFound("The key pair '%s' does not exist", id) }
	list, err := listWanting(f, c, in.KeyNames, func(k *state.KeyPair) string { return k.Name }, listKeys, notFound)
	if err != nil {
		return nil, err
	}
	if len(in.KeyPairIds) > 0 {
		if list, err = listWanting(f, c, in.KeyPairIds, func(k *state.KeyPair) string { return k.ID }, listKeys, notFound); err != nil {
			return nil, err
		}
	}
	out := &DescribeKeyPairsResult{KeyPairs: []KeyPairInfo{}}
	for _, k := range list {
		if len(in.KeyNames) > 0 && !slices.Contains(in.KeyNames, k.Name) || len(in.KeyPairIds) > 0 && !slices.Contains(in.KeyPairIds, k.ID) {
			continue
		}
		if !fs.match(func(name string) []string { return keyPairAttr(k, name) }, k.Tags) {
			continue
		}
		info := KeyPairInfo{KeyPairId: ptr(k.ID), KeyName: ptr(k.Name), KeyType: ptr(k.Type), KeyFingerprint: ptr(k.Fingerprint),
			CreateTime: ptr(k.Created), Tags: tagList(k.Tags)}
		if deref(in.IncludePublicKey) {
			info.PublicKey = ptr(k.PublicKey)
		}
		out.KeyPairs = append(out.KeyPairs, info)
	}
	return out, nil
}

func keyPairAttr(k *state.KeyPair, name string) []string {
	switch name {
	case "key-pair-id":
		return []string{k.ID}
	case "key-name":
		return []string{k.Name}
	case "fingerprint":
		return []string{k.Fingerprint}
	case "key-type":
		return []string{k.Type}
	}
	return nil
}

func (f *front) deleteKeyPair(c *service.Call, in *DeleteKeyPairRequest) (*DeleteKeyPairResult, error) {
	name, id := deref(in.KeyName), deref(in.KeyPairId)
	target := name
	if target == "" {
		target = id
	}
	if err := f.authorize(c, "DeleteKeyPair", in.DryRun, f.arn(c, "key-pair", target)); err != nil {
		return nil, err
	}
	if name == "" && id == "" {
		return nil, errMissingParameter("The request must contain the parameter KeyName or KeyPairId")
	}
	if id != "" && !strings.HasPrefix(id, "key-") {
		return nil, errInvalidParameterValue("Invalid id: \"%s\" (expecting \"key-...\")", id)
	}
	if id == "" {
		if kp, err := f.st().KeyPair(c.Caller.AccountID, name); err == nil {
			id = kp.ID
		}
	}
	if _, err := f.cluster.Apply(c.Ctx, &state.DeleteKeyPair{Account: c.Caller.AccountID, Name: name, ID: deref(in.KeyPairId)}, nil); err != nil {
		return nil, err
	}
	out := &DeleteKeyPairResult{Return: ptr(true)}
	if id != "" {
		out.KeyPairId = ptr(id)
	}
	return out, nil
}

func sha1Sum(b []byte) []byte {
	s := sha1.Sum(b)
	return s[:]
}

func sha256Fingerprint(pub ssh.PublicKey) string {
	s := sha256.Sum256(pub.Marshal())
	return base64.StdEncoding.EncodeToString(s[:])
}

func colonHex(b []byte) string {
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = fmt.Sprintf("%02x", x)
	}
	return strings.Join(parts, ":")
}
