// Verifies Rampart-issued tokens with aws-jwt-verify's JwtRsaVerifier configured with the
// pool's issuer and JWKS (handed over with cacheJwks, as a fetch of the JWKS URI would).
//
// stdin: {"issuer", "client_id", "jwks", "id_token", "access_token"}
// stdout: {"id": "ok"|error, "access": …, "id_as_access": …, "wrong_audience": …}
const { JwtRsaVerifier } = require("aws-jwt-verify");
const { readStdin } = require("./harness.cjs");

async function outcome(verifier, token) {
  try {
    await verifier.verify(token);
    return "ok";
  } catch (error) {
    return error.name || String(error);
  }
}

(async () => {
  const input = await readStdin();
  const jwksUri = `${input.issuer}/.well-known/jwks.json`;
  const make = (options) => {
    const verifier = JwtRsaVerifier.create({ issuer: input.issuer, jwksUri, ...options });
    verifier.cacheJwks(input.jwks);
    return verifier;
  };
  const idVerifier = make({ audience: input.client_id });
  const accessOnly = (clientId) =>
    make({
      audience: null,
      customJwtCheck: ({ payload }) => {
        if (payload.token_use !== "access") throw new Error("not an access token");
        if (payload.client_id !== clientId) throw new Error("wrong client_id");
      },
    });
  process.stdout.write(
    JSON.stringify({
      id: await outcome(idVerifier, input.id_token),
      access: await outcome(accessOnly(input.client_id), input.access_token),
      id_as_access: await outcome(accessOnly(input.client_id), input.id_token),
      wrong_audience: await outcome(make({ audience: "another-client" }), input.id_token),
    }),
  );
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
