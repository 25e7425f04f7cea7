// Test SMTP server of g360_mail_testkit::smtp::SmtpTestServer: nodemailer's
// smtp-server, configured by one JSON argument, reporting on stdout one JSON
// object per line (listening, connect, auth, message, fault).
//
// Config: {
//   modules: "<dir>/node_modules",         where smtp-server is installed
//   secure: false,                          implicit TLS
//   tls: { key: "<pem path>", cert: "<pem path>" } | null   (null: no STARTTLS)
//   auth: { methods: ["PLAIN", "LOGIN"], users: { name: password }, tokens: { name: token },
//           oauth: { audience: "https://outlook.office365.com", role: "SMTP.SendAsApp" },
//           allow_insecure: false } | null   (allow_insecure: AUTH without TLS; null: no AUTH)
//     oauth: XOAUTH2 takes any JWT whose payload has this aud and this role in roles, as
//     Exchange Online does with app-only tokens; others get 535 5.7.3 like Exchange Online
//   faults: {
//     mail_from: ["drop", "ok", ...],       per MAIL FROM, in order; then ok
//     rcpt_reject: ["addr", ...],           answered 550 5.1.1
//     data: ["451", "554", "drop", "hang", "ok", ...] per message, in order; then ok
//   }
// }
'use strict';

const fs = require('fs');
const path = require('path');

const config = JSON.parse(process.argv[2]);
const { SMTPServer } = require(path.join(config.modules, 'smtp-server'));

const faults = Object.assign({ mail_from: [], rcpt_reject: [], data: [] }, config.faults || {});
const emit = (event) => process.stdout.write(JSON.stringify(event) + '\n');

let server;
const drop = (session) => {
    for (const connection of server.connections) {
        if (connection.id === session.id) {
            connection._socket.destroy();
        }
    }
};
const replyError = (code, text) => {
    const err = new Error(text);
    err.responseCode = code;
    return err;
};

const options = {
    secure: !!config.secure,
    name: 'test.smtp.local',
    banner: 'g360 test server',
    disableReverseLookup: true,
    hideENHANCEDSTATUSCODES: false,
    socketTimeout: 30000,
    closeTimeout: 100,
    logger: false,
    disabledCommands: [],
    onConnect(session, callback) {
        emit({ event: 'connect', session: session.id });
        callback();
    },
    onMailFrom(address, session, callback) {
        const action = faults.mail_from.shift() || 'ok';
        if (action === 'drop') {
            emit({ event: 'fault', session: session.id, at: 'mail_from', action });
            drop(session);
            return;
        }
        callback();
    },
    onRcptTo(address, session, callback) {
        if (faults.rcpt_reject.includes(address.address)) {
            return callback(replyError(550, '5.1.1 <' + address.address + '>: Recipient address rejected: User unknown'));
        }
        callback();
    },
    onData(stream, session, callback) {
        const chunks = [];
        stream.on('data', (chunk) => chunks.push(chunk));
        stream.on('end', () => {
            const action = faults.data.shift() || 'ok';
            emit({
                event: 'message',
                session: session.id,
                secure: session.secure,
                user: session.user === undefined ? null : session.user,
                mail_from: session.envelope.mailFrom ? session.envelope.mailFrom.address : null,
                rcpt_to: session.envelope.rcptTo.map((r) => r.address),
                raw: Buffer.concat(chunks).toString('base64'),
                action,
            });
            if (action === 'drop') {
                drop(session);
            } else if (action === 'hang') {
                // never answer
            } else if (/^[45]\d\d$/.test(action)) {
                const code = Number(action);
                const text = code < 500 ? '4.3.0 Temporary failure, try again later' : '5.7.1 Message rejected as spam';
                callback(replyError(code, text));
            } else {
                callback(null, '2.0.0 Ok: queued as G360TEST' + Date.now());
            }
        });
    },
};

if (config.tls) {
    options.key = fs.readFileSync(config.tls.key);
    options.cert = fs.readFileSync(config.tls.cert);
} else {
    options.disabledCommands.push('STARTTLS');
}

if (config.auth) {
    const auth = config.auth;
    options.authMethods = auth.methods || ['PLAIN', 'LOGIN'];
    options.allowInsecureAuth = !!auth.allow_insecure;
    // The payload of a JWT, or null.
    const claims = (token) => {
        const parts = String(token || '').split('.');
        if (parts.length !== 3) {
            return null;
        }
        try {
            return JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
        } catch (e) {
            return null;
        }
    };
    options.onAuth = (a, session, callback) => {
        let ok;
        let extra = {};
        if (a.method === 'XOAUTH2' && auth.oauth) {
            const c = claims(a.accessToken) || {};
            const roles = Array.isArray(c.roles) ? c.roles : [];
            ok = c.aud === auth.oauth.audience && roles.includes(auth.oauth.role);
            extra = { aud: c.aud === undefined ? null : c.aud, roles };
        } else if (a.method === 'XOAUTH2') {
            ok = (auth.tokens || {})[a.username] === a.accessToken;
        } else {
            ok = (auth.users || {})[a.username] === a.password;
        }
        emit(Object.assign({ event: 'auth', session: session.id, method: a.method, username: a.username, ok }, extra));
        if (ok) {
            return callback(null, { user: a.username });
        }
        if (a.method === 'XOAUTH2' && auth.oauth) {
            return callback(replyError(535, '5.7.3 Authentication unsuccessful [G360TEST.PROD.OUTLOOK.COM]'));
        }
        if (a.method === 'XOAUTH2') {
            return callback(null, { data: { status: '401', schemes: 'bearer', scope: 'https://outlook.office.com/SMTP.Send' } });
        }
        return callback(replyError(535, '5.7.8 Error: authentication failed: Invalid username or password'));
    };
} else {
    options.disabledCommands.push('AUTH');
    options.authOptional = true;
}

server = new SMTPServer(options);
server.on('error', (err) => process.stderr.write('smtp-server error: ' + err.message + '\n'));
server.listen(0, '127.0.0.1', () => {
    emit({ event: 'listening', port: server.server.address().port });
});

// The test closes stdin (or dies) when it is done with the server.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
