// Signs in with amazon-cognito-identity-js's own CognitoUser.authenticateUser (USER_SRP_AUTH),
// unmodified: only its HTTP client is replaced, by one that answers InitiateAuth and
// RespondToAuthChallenge with Rampart's SRP server side (the identity harness). Every client
// computation — A, x, S, the HKDF key, TIMESTAMP, the claim signature — is the library's.
//
// stdin: {"harness": path, "pool_id", "client_id", "cases": [{"user", "password", "attempt"}]}
// stdout: one result per case: {"ok", "error", "srp_a", "srp_b", "salt", "timestamp"}
const {
  AuthenticationDetails,
  CognitoUser,
  CognitoUserPool,
} = require("amazon-cognito-identity-js");
const { startHarness, readStdin } = require("./harness.cjs");

async function signIn(harness, config, testCase) {
  const { verifier } = await harness.call({
    op: "register",
    pool_id: config.pool_id,
    user: testCase.user,
    password: testCase.password,
  });
  const pool = new CognitoUserPool({ UserPoolId: config.pool_id, ClientId: config.client_id });
  const seen = {};
  let session;
  pool.client.request = (operation, params, callback) => {
    (async () => {
      if (operation === "InitiateAuth") {
        if (params.AuthFlow !== "USER_SRP_AUTH") throw new Error(`flow ${params.AuthFlow}`);
        seen.srp_a = params.AuthParameters.SRP_A;
        const challenge = await harness.call({
          op: "challenge",
          pool_id: config.pool_id,
          user: testCase.user,
          verifier,
          srp_a: params.AuthParameters.SRP_A,
        });
        if (challenge.error) throw new Error(challenge.error);
        session = challenge;
        seen.srp_b = challenge.srp_b;
        seen.salt = challenge.salt;
        return {
          ChallengeName: "PASSWORD_VERIFIER",
          ChallengeParameters: {
            USER_ID_FOR_SRP: testCase.user,
            USERNAME: testCase.user,
            SALT: challenge.salt,
            SRP_B: challenge.srp_b,
            SECRET_BLOCK: challenge.secret_block,
          },
        };
      }
      if (operation === "RespondToAuthChallenge") {
        const responses = params.ChallengeResponses;
        seen.timestamp = responses.TIMESTAMP;
        if (responses.PASSWORD_CLAIM_SECRET_BLOCK !== session.secret_block) {
          throw new Error("the client changed SECRET_BLOCK");
        }
        const verdict = await harness.call({
          op: "verify",
          pool_id: config.pool_id,
          user: responses.USERNAME,
          session: session.session,
          secret_block: responses.PASSWORD_CLAIM_SECRET_BLOCK,
          timestamp: responses.TIMESTAMP,
          signature: responses.PASSWORD_CLAIM_SIGNATURE,
        });
        if (!verdict.ok) {
          const error = new Error("Incorrect username or password.");
          error.code = "NotAuthorizedException";
          error.name = "NotAuthorizedException";
          error.detail = verdict.error;
          throw error;
        }
        const tokens = await harness.call({
          op: "tokens",
          issuer: `http://127.0.0.1/${config.pool_id}`,
          client_id: config.client_id,
          username: testCase.user,
          sub: "00000000-0000-4000-8000-000000000000",
          email: "user@example.com",
        });
        return {
          AuthenticationResult: {
            IdToken: tokens.id_token,
            AccessToken: tokens.access_token,
            RefreshToken: "opaque-refresh-token",
            ExpiresIn: 3600,
            TokenType: "Bearer",
          },
          ChallengeParameters: {},
        };
      }
      throw new Error(`unexpected operation ${operation}`);
    })().then(
      (data) => callback(null, data),
      (error) => callback(error, null),
    );
  };
  const user = new CognitoUser({ Username: testCase.user, Pool: pool });
  const details = new AuthenticationDetails({ Username: testCase.user, Password: testCase.attempt });
  return new Promise((resolve) => {
    user.authenticateUser(details, {
      onSuccess: (userSession) =>
        resolve({ ok: userSession.isValid(), error: null, ...seen }),
      onFailure: (error) =>
        resolve({ ok: false, error: error.code || String(error), detail: error.detail, ...seen }),
    });
  });
}

(async () => {
  const config = await readStdin();
  const harness = startHarness(config.harness);
  const results = [];
  for (const testCase of config.cases) results.push(await signIn(harness, config, testCase));
  harness.close();
  process.stdout.write(JSON.stringify(results));
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
