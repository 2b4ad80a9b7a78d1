// Crypto primitives against published test vectors.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <span>
#include <string>

#include "common/crypto.hpp"

using namespace mhr;

namespace {

Bytes hex(std::string_view h) {
  auto b = from_hex(h);
  REQUIRE(b.has_value());
  return *b;
}

template <typename T>
T fixed(std::string_view h) {
  auto b = hex(h);
  REQUIRE(b.size() == T::kSize);
  T out;
  std::copy(b.begin(), b.end(), out.bytes.begin());
  return out;
}

struct Ed25519Vector {
  const char* name;
  const char* secret;
  const char* public_key;
  const char* message;
  const char* signature;
};

// RFC 8032 section 7.1.
const Ed25519Vector kEd25519Vectors[] = {
    {"TEST 1", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9"
     "b46bd25bf5f0595bbe24655141438e7a100b"},
    {"TEST 2", "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f1"
     "1d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"TEST 3", "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984d"
     "c6594a7c15e9716ed28dc027beceea1ec40a"},
    {"TEST SHA(abc)", "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
     "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3fe"
     "ebbd454d4423643ce80e2a9ac94fa54ca49f",
     "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431"
     "e0303dca179c138ac17ad9bef1177331a704"},
};

}  // namespace

TEST_CASE("crypto: sha256 FIPS 180-2 vectors") {
  CHECK(sha256(as_bytes("abc")).hex() ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256(as_bytes("")).hex() ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256(ByteView{}).hex() ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256(as_bytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")).hex() ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_CASE("crypto: sha256 stream of one million 'a'") {
  const std::string chunk(1000, 'a');
  Sha256Stream stream;
  for (int i = 0; i < 1000; ++i) stream.update(as_bytes(chunk));
  CHECK(stream.finish().hex() ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");

  // Uneven pieces give the same digest as one shot.
  const std::string text = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  Sha256Stream pieces;
  pieces.update(as_bytes(std::string_view(text).substr(0, 1)));
  pieces.update(ByteView{});
  pieces.update(as_bytes(std::string_view(text).substr(1, 30)));
  pieces.update(as_bytes(std::string_view(text).substr(31)));
  CHECK(pieces.finish() == sha256(as_bytes(text)));
}

TEST_CASE("crypto: sha256 two-part equals concatenation") {
  CHECK(sha256(as_bytes("ab"), as_bytes("c")) == sha256(as_bytes("abc")));
  CHECK(sha256(as_bytes(""), as_bytes("abc")) == sha256(as_bytes("abc")));
  CHECK(sha256(as_bytes("abc"), ByteView{}) == sha256(as_bytes("abc")));
  const std::string a = "abcdbcdecdefdefgefghfghighijhijkijkl";
  const std::string b = "jklmklmnlmnomnopnopq";
  CHECK(sha256(as_bytes(a), as_bytes(b)).hex() ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_CASE("crypto: ed25519 RFC 8032 section 7.1 vectors") {
  for (const auto& v : kEd25519Vectors) {
    CAPTURE(v.name);
    const auto seed = fixed<SecretSeed>(v.secret);
    const auto pk = fixed<PublicKey>(v.public_key);
    const auto sig = fixed<Signature>(v.signature);
    const Bytes msg = hex(v.message);

    const KeyPair kp = KeyPair::from_seed(seed);
    CHECK(kp.seed() == seed);
    CHECK(kp.public_key().hex() == v.public_key);
    CHECK(kp.sign(msg).hex() == v.signature);
    CHECK(verify(pk, msg, sig));
  }
}

TEST_CASE("crypto: ed25519 rejects tampering") {
  for (const auto& v : kEd25519Vectors) {
    CAPTURE(v.name);
    const auto pk = fixed<PublicKey>(v.public_key);
    const auto sig = fixed<Signature>(v.signature);
    const Bytes msg = hex(v.message);

    // A flipped bit in the message (or an extra byte for the empty message).
    Bytes bad_msg = msg;
    if (bad_msg.empty()) {
      bad_msg.push_back(0);
    } else {
      bad_msg[0] ^= 0x01;
    }
    CHECK_FALSE(verify(pk, bad_msg, sig));

    // A flipped bit in each half of the signature.
    for (std::size_t i : {std::size_t{0}, std::size_t{31}, std::size_t{32}, std::size_t{63}}) {
      Signature bad_sig = sig;
      bad_sig.bytes[i] ^= 0x01;
      CHECK_FALSE(verify(pk, msg, bad_sig));
    }

    // A flipped bit in the public key.
    PublicKey bad_pk = pk;
    bad_pk.bytes[0] ^= 0x01;
    CHECK_FALSE(verify(bad_pk, msg, sig));
  }
}

TEST_CASE("crypto: ed25519 malformed keys and signatures") {
  const auto& v = kEd25519Vectors[0];
  const auto sig = fixed<Signature>(v.signature);
  const Bytes msg = hex(v.message);

  PublicKey garbage;
  garbage.bytes.fill(0xFF);
  CHECK_FALSE(verify(garbage, msg, sig));
  CHECK_FALSE(verify(PublicKey{}, msg, sig));
  CHECK_FALSE(verify(fixed<PublicKey>(v.public_key), msg, Signature{}));
  Signature all_ff;
  all_ff.bytes.fill(0xFF);
  CHECK_FALSE(verify(fixed<PublicKey>(v.public_key), msg, all_ff));

  // S + L (group order) is the same scalar but not canonical: RFC 8032
  // section 5.1.7 requires rejecting it, so signatures are not malleable.
  const auto order = hex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
  Signature malleated = sig;
  unsigned carry = 0;
  for (std::size_t i = 0; i < 32; ++i) {
    unsigned sum = malleated.bytes[32 + i] + order[i] + carry;
    malleated.bytes[32 + i] = static_cast<std::uint8_t>(sum);
    carry = sum >> 8;
  }
  REQUIRE(carry == 0);
  CHECK_FALSE(verify(fixed<PublicKey>(v.public_key), msg, malleated));
}

TEST_CASE("crypto: ed25519 key pair copy, move and generate") {
  const KeyPair a = KeyPair::generate();
  const KeyPair b = KeyPair::generate();
  CHECK(a.public_key() != b.public_key());
  CHECK(KeyPair::from_seed(a.seed()).public_key() == a.public_key());

  const Bytes msg = hex("00010203");
  KeyPair copy = a;
  CHECK(copy.public_key() == a.public_key());
  CHECK(copy.sign(msg) == a.sign(msg));
  CHECK(verify(a.public_key(), msg, copy.sign(msg)));
  CHECK_FALSE(verify(b.public_key(), msg, a.sign(msg)));

  KeyPair assigned = b;
  assigned = a;
  CHECK(assigned.sign(msg) == a.sign(msg));
  const KeyPair& alias = assigned;
  assigned = alias;  // self-assignment is harmless
  CHECK(assigned.sign(msg) == a.sign(msg));

  KeyPair moved = std::move(copy);
  CHECK(moved.sign(msg) == a.sign(msg));
  KeyPair move_assigned = b;
  move_assigned = std::move(moved);
  CHECK(move_assigned.public_key() == a.public_key());
  CHECK(verify(a.public_key(), msg, move_assigned.sign(msg)));
}

TEST_CASE("crypto: aes-256-gcm NIST test cases 13, 14 and 16") {
  // Test Case 13: zero key and IV, empty plaintext.
  {
    const AeadKey key{};
    const AeadNonce nonce{};
    const Bytes sealed = aead_seal(key, nonce, {}, {});
    CHECK(to_hex(sealed) == "530f8afbc74536b9a963b4f1c4cb738b");
    const auto opened = aead_open(key, nonce, sealed, {});
    REQUIRE(opened.has_value());
    CHECK(opened->empty());
  }
  // Test Case 14: zero key and IV, 16 zero bytes of plaintext.
  {
    const AeadKey key{};
    const AeadNonce nonce{};
    const Bytes plain(16, 0);
    const Bytes sealed = aead_seal(key, nonce, plain, {});
    CHECK(to_hex(sealed) ==
          "cea7403d4d606b6e074ec5d3baf39d18"
          "d0d1c8a799996bf0265b98b5d48ab919");
    const auto opened = aead_open(key, nonce, sealed, {});
    REQUIRE(opened.has_value());
    CHECK(*opened == plain);
  }
  // Test Case 16: 256-bit key, 12-byte IV, AAD, 60-byte plaintext.
  {
    const auto key = fixed<AeadKey>(
        "feffe9928665731c6d6a8f9467308308"
        "feffe9928665731c6d6a8f9467308308");
    const auto nonce = fixed<AeadNonce>("cafebabefacedbaddecaf888");
    const Bytes plain =
        hex("d9313225f88406e5a55909c5aff5269a"
            "86a7a9531534f7da2e4c303d8a318a72"
            "1c3c0c95956809532fcf0e2449a6b525"
            "b16aedf5aa0de657ba637b39");
    const Bytes aad =
        hex("feedfacedeadbeeffeedfacedeadbeef"
            "abaddad2");
    const Bytes sealed = aead_seal(key, nonce, plain, aad);
    CHECK(to_hex(sealed) ==
          "522dc1f099567d07f47f37a32a84427d"
          "643a8cdcbfe5c0c97598a2bd2555d1aa"
          "8cb08e48590dbb3da7b08b1056828838"
          "c5f61e6393ba7a0abcc9f662"
          "76fc6ece0f4e1768cddf8853bb2d551b");
    const auto opened = aead_open(key, nonce, sealed, aad);
    REQUIRE(opened.has_value());
    CHECK(*opened == plain);
  }
}

TEST_CASE("crypto: aes-256-gcm rejects tampering and short input") {
  const auto key =
      fixed<AeadKey>("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
  const auto nonce = fixed<AeadNonce>("cafebabefacedbaddecaf888");
  const Bytes plain =
      hex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e24"
          "49a6b525b16aedf5aa0de657ba637b39");
  const Bytes aad = hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  const Bytes sealed = aead_seal(key, nonce, plain, aad);
  REQUIRE(aead_open(key, nonce, sealed, aad).has_value());

  Bytes bad_ct = sealed;
  bad_ct[0] ^= 0x01;
  CHECK_FALSE(aead_open(key, nonce, bad_ct, aad).has_value());

  Bytes bad_tag = sealed;
  bad_tag.back() ^= 0x80;
  CHECK_FALSE(aead_open(key, nonce, bad_tag, aad).has_value());

  Bytes bad_aad = aad;
  bad_aad[3] ^= 0x01;
  CHECK_FALSE(aead_open(key, nonce, sealed, bad_aad).has_value());
  CHECK_FALSE(aead_open(key, nonce, sealed, {}).has_value());

  AeadKey bad_key = key;
  bad_key.bytes[31] ^= 0x01;
  CHECK_FALSE(aead_open(bad_key, nonce, sealed, aad).has_value());

  AeadNonce bad_nonce = nonce;
  bad_nonce.bytes[0] ^= 0x01;
  CHECK_FALSE(aead_open(key, bad_nonce, sealed, aad).has_value());

  // Truncated: dropped tag bytes, or shorter than the tag altogether.
  CHECK_FALSE(aead_open(key, nonce, ByteView(sealed).first(sealed.size() - 1), aad).has_value());
  CHECK_FALSE(aead_open(key, nonce, ByteView(sealed).first(kAeadTagBytes - 1), aad).has_value());
  CHECK_FALSE(aead_open(key, nonce, ByteView{}, aad).has_value());
  CHECK_FALSE(aead_open(key, nonce, ByteView(sealed).first(kAeadTagBytes), aad).has_value());
}

TEST_CASE("crypto: x25519 RFC 7748 section 5.2 scalar multiplication") {
  {
    const auto scalar =
        fixed<X25519Secret>("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4");
    const auto u =
        fixed<X25519Public>("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c");
    const auto out = x25519_agree(scalar, u);
    REQUIRE(out.has_value());
    CHECK(out->hex() == "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
  }
  {
    const auto scalar =
        fixed<X25519Secret>("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d");
    const auto u =
        fixed<X25519Public>("e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493");
    const auto out = x25519_agree(scalar, u);
    REQUIRE(out.has_value());
    CHECK(out->hex() == "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957");
  }
}

TEST_CASE("crypto: x25519 RFC 7748 section 6.1 Diffie-Hellman") {
  const auto alice = X25519KeyPair::from_secret(
      fixed<X25519Secret>("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
  const auto bob = X25519KeyPair::from_secret(
      fixed<X25519Secret>("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"));
  CHECK(alice.public_key.hex() ==
        "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  CHECK(bob.public_key.hex() == "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");

  // from_secret stores the clamped scalar.
  CHECK((alice.secret.bytes[0] & 7) == 0);
  CHECK((alice.secret.bytes[31] & 0xC0) == 0x40);

  const auto k_alice = x25519_agree(alice.secret, bob.public_key);
  const auto k_bob = x25519_agree(bob.secret, alice.public_key);
  REQUIRE(k_alice.has_value());
  REQUIRE(k_bob.has_value());
  CHECK(k_alice->hex() == "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  CHECK(*k_alice == *k_bob);
}

TEST_CASE("crypto: x25519 generate and low-order peer keys") {
  const auto a = X25519KeyPair::generate();
  const auto b = X25519KeyPair::generate();
  CHECK(a.public_key != b.public_key);
  CHECK(X25519KeyPair::from_secret(a.secret).public_key == a.public_key);
  const auto ab = x25519_agree(a.secret, b.public_key);
  const auto ba = x25519_agree(b.secret, a.public_key);
  REQUIRE(ab.has_value());
  REQUIRE(ba.has_value());
  CHECK(*ab == *ba);

  // u = 0 and u = 1 are low-order points: the shared secret is all zero.
  CHECK_FALSE(x25519_agree(a.secret, X25519Public{}).has_value());
  X25519Public one{};
  one.bytes[0] = 1;
  CHECK_FALSE(x25519_agree(a.secret, one).has_value());
}

TEST_CASE("crypto: hkdf-sha256 RFC 5869 appendix A") {
  SUBCASE("Test Case 1") {
    const Bytes okm =
        hkdf_sha256(hex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"),
                    hex("000102030405060708090a0b0c"), hex("f0f1f2f3f4f5f6f7f8f9"), 42);
    CHECK(to_hex(okm) ==
          "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
  }
  SUBCASE("Test Case 2") {
    const Bytes ikm =
        hex("000102030405060708090a0b0c0d0e0f"
            "101112131415161718191a1b1c1d1e1f"
            "202122232425262728292a2b2c2d2e2f"
            "303132333435363738393a3b3c3d3e3f"
            "404142434445464748494a4b4c4d4e4f");
    const Bytes salt =
        hex("606162636465666768696a6b6c6d6e6f"
            "707172737475767778797a7b7c7d7e7f"
            "808182838485868788898a8b8c8d8e8f"
            "909192939495969798999a9b9c9d9e9f"
            "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
    const Bytes info =
        hex("b0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
            "c0c1c2c3c4c5c6c7c8c9cacbcccdcecf"
            "d0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
            "e0e1e2e3e4e5e6e7e8e9eaebecedeeef"
            "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
    const Bytes okm = hkdf_sha256(ikm, salt, info, 82);
    CHECK(to_hex(okm) ==
          "b11e398dc80327a1c8e7f78c596a4934"
          "4f012eda2d4efad8a050cc4c19afa97c"
          "59045a99cac7827271cb41c65e590e09"
          "da3275600c2f09b8367793a9aca3db71"
          "cc30c58179ec3e87c14c01d5c1f3434f"
          "1d87");
  }
  SUBCASE("Test Case 3") {
    const Bytes okm = hkdf_sha256(hex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"), {}, {}, 42);
    CHECK(to_hex(okm) ==
          "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
  }
  SUBCASE("lengths") {
    CHECK(hkdf_sha256(hex("0b"), {}, {}, 0).empty());
    CHECK(hkdf_sha256(hex("0b"), {}, {}, 255 * 32).size() == 255 * 32);
  }
}

TEST_CASE("crypto: secure_random fills its buffer") {
  std::array<std::uint8_t, 32> a{}, b{};
  secure_random(a);
  secure_random(b);
  CHECK(a != b);
  secure_random(std::span<std::uint8_t>{});
}
