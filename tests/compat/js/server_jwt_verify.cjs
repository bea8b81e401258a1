// Verifies tokens a running `rampart serve` issued with aws-jwt-verify's JwtRsaVerifier,
// configured as a resource server would be: the pool's issuer and JWKS URI, the JWKS fetched by
// the library itself over HTTPS (NODE_EXTRA_CA_CERTS trusts the test's certificate). An ID token
// verifier requires the client as audience and token_use "id"; an access token verifier requires
// Cognito's scope, token_use "access" and the client's client_id (access tokens carry no aud).
// One verifier of each kind serves every check, so its JWKS cache is shared as in a real server.
//
// stdin: {"issuer", "jwks_uri", "client_id", "checks": [{"kind": "id"|"access", "token",
//         "issuer"?}]}
// stdout: one outcome per check: "ok", or the error's name and message
const { JwtRsaVerifier } = require("aws-jwt-verify");
const { readStdin } = require("./harness.cjs");

function verifiers(input, issuer) {
  const tokenUse = (use) => ({ payload }) => {
    if (payload.token_use !== use) throw new Error(`token_use is not ${use}`);
    if (use === "access" && payload.client_id !== input.client_id) {
      throw new Error("client_id is not the expected client");
    }
  };
  return {
    id: JwtRsaVerifier.create({
      issuer,
      jwksUri: input.jwks_uri,
      audience: input.client_id,
      customJwtCheck: tokenUse("id"),
    }),
    access: JwtRsaVerifier.create({
      issuer,
      jwksUri: input.jwks_uri,
      audience: null,
      scope: "aws.cognito.signin.user.admin",
      customJwtCheck: tokenUse("access"),
    }),
  };
}

(async () => {
  const input = await readStdin();
  const byIssuer = new Map();
  const outcomes = [];
  for (const check of input.checks) {
    const issuer = check.issuer || input.issuer;
    if (!byIssuer.has(issuer)) byIssuer.set(issuer, verifiers(input, issuer));
    try {
      await byIssuer.get(issuer)[check.kind].verify(check.token);
      outcomes.push("ok");
    } catch (error) {
      outcomes.push(`${error.constructor.name}: ${error.message}`);
    }
  }
  process.stdout.write(JSON.stringify(outcomes));
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
