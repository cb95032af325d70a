// Decrypts a faceproof encrypted template the way the reference's Java sample does, so the
// test suite proves byte compatibility with what a Java integrator will run.
//
// Usage: java DecryptTemplate PRIVATE_KEY KEY1 KEY2 DATA OUT [KEY1 KEY2 DATA OUT ...]
//   PRIVATE_KEY  file with the PKCS#8 RSA private key, PEM or bare base64
//   KEY1/KEY2/DATA  files holding the base64 strings of the "key1"/"key2"/"data" fields
//   OUT  file the decrypted template bytes are written to
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import javax.crypto.Cipher;
import javax.crypto.SecretKey;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

public final class DecryptTemplate {
    private DecryptTemplate() {}

    static String readText(String file) throws Exception {
        return new String(Files.readAllBytes(Path.of(file)), StandardCharsets.US_ASCII).trim();
    }

    static PrivateKey stringToPrivateKey(String pkey) throws Exception {
        String b64 = pkey.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
        PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(Base64.getDecoder().decode(b64));
        return KeyFactory.getInstance("RSA").generatePrivate(spec);
    }

    static byte[] decrypt(PrivateKey privateKey, String key1, String key2, String data)
            throws Exception {
        byte[] keyB = Base64.getDecoder().decode(key1);
        byte[] ivB = Base64.getDecoder().decode(key2);
        Cipher rsa = Cipher.getInstance("RSA/ECB/OAEPWithSHA1AndMGF1Padding");
        rsa.init(Cipher.DECRYPT_MODE, privateKey);
        byte[] key = rsa.doFinal(keyB);
        byte[] iv = rsa.doFinal(ivB);
        SecretKey originalKey = new SecretKeySpec(key, 0, key.length, "AES");
        Cipher aes = Cipher.getInstance("AES/GCM/NoPadding");
        aes.init(Cipher.DECRYPT_MODE, originalKey, new GCMParameterSpec(128, iv));
        return aes.doFinal(Base64.getDecoder().decode(data));
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 5 || (args.length - 1) % 4 != 0) {
            System.err.println("usage: DecryptTemplate PRIVATE_KEY KEY1 KEY2 DATA OUT [...]");
            System.exit(2);
        }
        PrivateKey privateKey = stringToPrivateKey(readText(args[0]));
        for (int i = 1; i < args.length; i += 4) {
            byte[] plain = decrypt(
                    privateKey, readText(args[i]), readText(args[i + 1]), readText(args[i + 2]));
            Files.write(Path.of(args[i + 3]), plain);
        }
    }
}
