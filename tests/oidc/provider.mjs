// A certified OpenID provider (panva/oidc-provider) for the tests: `trial login`'s device flow, and the
// authorization-code flow a web client will use. Started by tests/oidc_provider.py on a free loopback port:
//   node provider.mjs   with PORT, AUDIENCE, RESOURCE, ACCOUNTS (JSON {"user": "study role"}), WEB_REDIRECT_URI
// Access tokens for RESOURCE are JWTs (RS256) with aud AUDIENCE and the claims the API maps to an actor:
// preferred_username and trialflow_role, with the person's printed name in `name` (their electronic signatures').
// Interactive login is the provider's own development pages
// (devInteractions): any password, the login names an account of ACCOUNTS.
import Provider, { errors } from 'oidc-provider';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const audience = process.env.AUDIENCE;
const resource = process.env.RESOURCE;
const accounts = JSON.parse(process.env.ACCOUNTS);
const accessTokenSeconds = Number(process.env.ACCESS_TOKEN_SECONDS || 600);

// The printed name on a person's signatures: "dr.li" -> "Li (dr.li)".
function printedName(accountId) {
  const last = accountId.split('.').pop();
  return `${last.charAt(0).toUpperCase()}${last.slice(1)} (${accountId})`;
}

function claimsOf(accountId) {
  return {
    sub: accountId,
    name: printedName(accountId),
    preferred_username: accountId,
    trialflow_role: accounts[accountId],
  };
}

const configuration = {
  clients: [
    {
      // `trial login`: a public client on a device without a browser.
      client_id: 'trialflow-cli',
      client_name: 'trialflow command line',
      token_endpoint_auth_method: 'none',
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
      response_types: [],
      redirect_uris: [],
    },
    {
      // The web pages (a later issue): authorization code with PKCE, a public client.
      client_id: 'trialflow-web',
      client_name: 'trialflow web',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: [process.env.WEB_REDIRECT_URI || 'http://127.0.0.1:8000/auth/callback'],
    },
  ],
  scopes: ['openid', 'profile', 'offline_access'],
  claims: { openid: ['sub'], profile: ['name', 'preferred_username', 'trialflow_role'] },
  async findAccount(_ctx, id) {
    if (!(id in accounts)) return undefined;
    return { accountId: id, async claims() { return claimsOf(id); } };
  },
  async extraTokenClaims(_ctx, token) {
    if (token.kind !== 'AccessToken' || !(token.accountId in accounts)) return undefined;
    const { name, preferred_username, trialflow_role } = claimsOf(token.accountId);
    return { name, preferred_username, trialflow_role };
  },
  // Both clients may refresh; offline_access in the request is what asks for it.
  async issueRefreshToken(_ctx, client, code) {
    return client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access');
  },
  features: {
    devInteractions: { enabled: true },
    deviceFlow: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo(_ctx, indicator) {
        if (indicator !== resource) throw new errors.InvalidTarget();
        return {
          scope: 'openid profile offline_access',
          audience,
          accessTokenTTL: accessTokenSeconds,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  ttl: { DeviceCode: 600, RefreshToken: 86400 },
};

const provider = new Provider(issuer, configuration);
provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
