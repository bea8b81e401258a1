// Signs in against a running `rampart serve` with amazon-cognito-identity-js, unmodified: the
// pool's `endpoint` is Rampart's, and CognitoUser.authenticateUser runs its default flow
// (USER_SRP_AUTH → PASSWORD_VERIFIER) over HTTP. On success the session's access token is used
// through the library again (getUserAttributes → GetUser).
//
// stdin: {"endpoint", "cases": [{"pool_id", "client_id", "username", "password"}]}
// stdout: one result per case: {"ok", "code", "message", "id_token", "access_token",
//         "refresh_token", "attributes"}
const {
  AuthenticationDetails,
  CognitoUser,
  CognitoUserPool,
} = require("amazon-cognito-identity-js");
const { readStdin } = require("./harness.cjs");

function signIn(endpoint, testCase) {
  const pool = new CognitoUserPool({
    UserPoolId: testCase.pool_id,
    ClientId: testCase.client_id,
    endpoint,
  });
  const user = new CognitoUser({ Username: testCase.username, Pool: pool });
  const details = new AuthenticationDetails({
    Username: testCase.username,
    Password: testCase.password,
  });
  return new Promise((resolve) => {
    user.authenticateUser(details, {
      onSuccess: (session) => {
        user.getUserAttributes((error, attributes) => {
          resolve({
            ok: session.isValid(),
            id_token: session.getIdToken().getJwtToken(),
            access_token: session.getAccessToken().getJwtToken(),
            refresh_token: session.getRefreshToken().getToken(),
            attributes: error
              ? { error: error.code || String(error) }
              : Object.fromEntries(attributes.map((a) => [a.getName(), a.getValue()])),
          });
        });
      },
      onFailure: (error) =>
        resolve({ ok: false, code: error.code || error.name, message: error.message }),
      newPasswordRequired: () => resolve({ ok: false, code: "newPasswordRequired" }),
      totpRequired: () => resolve({ ok: false, code: "totpRequired" }),
      mfaSetup: () => resolve({ ok: false, code: "mfaSetup" }),
    });
  });
}

(async () => {
  const input = await readStdin();
  const results = [];
  for (const testCase of input.cases) results.push(await signIn(input.endpoint, testCase));
  process.stdout.write(JSON.stringify(results));
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
