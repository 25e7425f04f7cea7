//! User-facing texts in Spanish and English.
//!
//! Every text is a [`Msg`]; the exhaustive `match` makes a missing translation
//! a compile error. Errors and verify checks are translated by their stable
//! code ([`error_text`]); an unknown code falls back to the English text the
//! provider wrote.

pub(crate) use g360_erp_bridge::Lang;

/// A fixed text of the CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Msg {
    SendOk,
    Error,
    Where,
    WhatToDo,
    Problems,
    ConfigOk,
    NoMessages,
    NextPage,
    From,
    To,
    Cc,
    Date,
    Subject,
    Attachments,
    ChecksPassed,
    ChecksFailed,
    Route,
    StoredAt,
    MessageId,
    Account,
    ProviderTypes,
    NeedsSecret,
}

impl Msg {
    pub(crate) fn text(self, lang: Lang) -> &'static str {
        use Lang::{En, Es};
        match (self, lang) {
            (Msg::SendOk, Es) => "El e-mail se envió correctamente",
            (Msg::SendOk, En) => "The e-mail was sent successfully",
            (Msg::Error, Es) => "error",
            (Msg::Error, En) => "error",
            (Msg::Where, Es) => "dónde",
            (Msg::Where, En) => "where",
            (Msg::WhatToDo, Es) => "qué hacer",
            (Msg::WhatToDo, En) => "what to do",
            (Msg::Problems, Es) => "La configuración tiene problemas",
            (Msg::Problems, En) => "The configuration has problems",
            (Msg::ConfigOk, Es) => "La configuración es válida",
            (Msg::ConfigOk, En) => "The configuration is valid",
            (Msg::NoMessages, Es) => "No hay mensajes",
            (Msg::NoMessages, En) => "No messages",
            (Msg::NextPage, Es) => "Página siguiente: --next",
            (Msg::NextPage, En) => "Next page: --next",
            (Msg::From, Es) => "De",
            (Msg::From, En) => "From",
            (Msg::To, Es) => "Para",
            (Msg::To, En) => "To",
            (Msg::Cc, _) => "Cc",
            (Msg::Date, Es) => "Fecha",
            (Msg::Date, En) => "Date",
            (Msg::Subject, Es) => "Asunto",
            (Msg::Subject, En) => "Subject",
            (Msg::Attachments, Es) => "Adjuntos",
            (Msg::Attachments, En) => "Attachments",
            (Msg::ChecksPassed, Es) => "Todas las comprobaciones son correctas",
            (Msg::ChecksPassed, En) => "All checks passed",
            (Msg::ChecksFailed, Es) => "Hay comprobaciones que fallan",
            (Msg::ChecksFailed, En) => "Some checks failed",
            (Msg::Route, Es) => "Ruta",
            (Msg::Route, En) => "Route",
            (Msg::StoredAt, Es) => "Guardado en",
            (Msg::StoredAt, En) => "Stored at",
            (Msg::MessageId, _) => "Message-ID",
            (Msg::Account, Es) => "Cuenta",
            (Msg::Account, En) => "Account",
            (Msg::ProviderTypes, Es) => "Tipos de proveedor registrados",
            (Msg::ProviderTypes, En) => "Registered provider types",
            (Msg::NeedsSecret, Es) => "necesita secreto",
            (Msg::NeedsSecret, En) => "needs a secret",
        }
    }
}

/// The translated message and remedy of a diagnostic code, when known.
/// `{}` placeholders are not used: details stay in the context lines.
pub(crate) fn error_text(code: &str, lang: Lang) -> Option<(&'static str, &'static str)> {
    let (es, en) = match code {
        "address.invalid" => (
            (
                "Dirección de e-mail no válida",
                "Escriba la dirección como usuario@ejemplo.com, opcionalmente Nombre <usuario@ejemplo.com>",
            ),
            (
                "Invalid e-mail address",
                "Write the address as user@example.com, optionally Name <user@example.com>",
            ),
        ),
        "message.no-recipient" => (
            (
                "El mensaje no tiene destinatario",
                "Indique al menos una dirección en --to, --cc o --bcc",
            ),
            ("The message has no recipient", "Give at least one address in --to, --cc or --bcc"),
        ),
        "message.header-injection" => (
            (
                "Un campo contiene un salto de línea o un carácter de control",
                "Quite los saltos de línea del asunto o de la cabecera",
            ),
            (
                "A field contains a line break or control character",
                "Remove line breaks from the subject or header",
            ),
        ),
        "message.header-invalid" => (
            ("Cabecera personalizada no válida", "Use cabeceras con la forma \"X-Nombre: valor\""),
            ("Invalid custom header", "Use headers of the form \"X-Name: value\""),
        ),
        "message.too-large" => (
            (
                "El mensaje es demasiado grande",
                "Envíe menos adjuntos o más pequeños, o comparta los ficheros grandes como enlaces",
            ),
            (
                "The message is too large",
                "Send fewer or smaller attachments, or share large files as links",
            ),
        ),
        "message.too-many-recipients" => (
            (
                "El mensaje tiene demasiados destinatarios",
                "Reparta los destinatarios en varios mensajes",
            ),
            ("The message has too many recipients", "Split the recipients over several messages"),
        ),
        "attachment.invalid" => (
            ("Adjunto no válido", "Revise el nombre y el tipo del fichero adjunto"),
            ("Invalid attachment", "Check the attachment's file name and type"),
        ),
        "attachment.unreadable" => (
            ("No se puede leer el fichero", "Compruebe la ruta y los permisos del fichero"),
            ("Cannot read the file", "Check the file's path and permissions"),
        ),
        "folder.invalid" => (
            (
                "Carpeta no válida",
                "Use inbox, sentitems, drafts, deleteditems, junkemail, archive o el id de una carpeta",
            ),
            (
                "Invalid folder",
                "Use inbox, sentitems, drafts, deleteditems, junkemail, archive or a folder id",
            ),
        ),
        "query.page-size" => (
            ("Número de mensajes fuera de rango", "Use --top entre 1 y 1000"),
            ("Number of messages out of range", "Use --top between 1 and 1000"),
        ),
        "config.invalid" => (
            (
                "La configuración no es válida",
                "Corrija cada clave indicada; `g360-mail config check` las lista todas",
            ),
            (
                "The configuration is invalid",
                "Fix each key listed; `g360-mail config check` lists them all",
            ),
        ),
        "config.unknown-provider" => (
            (
                "Tipo de proveedor desconocido",
                "Use uno de los tipos que lista `g360-mail providers`",
            ),
            ("Unknown provider type", "Use one of the types `g360-mail providers` lists"),
        ),
        "bridge.unknown-user" => (
            (
                "No hay cuenta de correo para ese usuario",
                "Añada una entrada [[accounts]] para el usuario o use uno de los usuarios conocidos",
            ),
            (
                "No mail account is configured for that user",
                "Add an [[accounts]] entry for the user, or use one of the known users",
            ),
        ),
        "bridge.user-required" => (
            (
                "Hay varias cuentas: indique el usuario",
                "Añada --user con uno de los usuarios listados",
            ),
            (
                "Several accounts are configured: say which user",
                "Add --user with one of the users listed",
            ),
        ),
        "bridge.no-accounts" => (
            (
                "No hay ninguna cuenta de correo configurada",
                "Añada una entrada [[accounts]] a la configuración",
            ),
            ("No mail account is configured", "Add an [[accounts]] entry to the configuration"),
        ),
        "unsupported" => (
            (
                "El proveedor de esta cuenta no permite esta operación",
                "Use una cuenta cuyo proveedor lo permita (por ejemplo office365 con Mail.Read para leer)",
            ),
            (
                "This account's provider cannot do that",
                "Use an account whose provider can (e.g. office365 with Mail.Read to read)",
            ),
        ),
        "smtp.dns-failed" => (
            (
                "No se puede resolver el nombre del servidor SMTP",
                "Compruebe host y la configuración DNS de esta máquina",
            ),
            (
                "Cannot resolve the SMTP server's host name",
                "Check host, and this machine's DNS settings",
            ),
        ),
        "smtp.connect-failed" => (
            (
                "No se puede conectar con el servidor SMTP",
                "Compruebe host y port, que el servidor esté en marcha y que ningún cortafuegos bloquee el puerto",
            ),
            (
                "Cannot connect to the SMTP server",
                "Check host and port, that the server is running, and that no firewall blocks the port",
            ),
        ),
        "smtp.timeout" => (
            (
                "El servidor SMTP no respondió a tiempo",
                "Compruebe que port y security casan (587 con starttls, 465 con tls) y que el servidor es accesible; suba command_timeout_ms si es lento",
            ),
            (
                "The SMTP server did not answer in time",
                "Check that port and security match (587 with starttls, 465 with tls) and that the server is reachable; raise command_timeout_ms if it is slow",
            ),
        ),
        "smtp.connection-lost" => (
            (
                "El servidor SMTP cerró la conexión antes de recibir el mensaje",
                "Inténtelo más tarde; si persiste, consulte el registro del servidor",
            ),
            (
                "The SMTP server closed the connection before the message was transmitted",
                "Try again later; if it persists, read the server's log",
            ),
        ),
        "smtp.tls-untrusted" => (
            (
                "El certificado TLS del servidor SMTP no es de confianza",
                "Ponga en tls_ca_file el certificado (PEM) de la CA que firmó el del servidor, o instálelo en el almacén de confianza de esta máquina",
            ),
            (
                "The SMTP server's TLS certificate is not trusted",
                "Put the certificate (PEM) of the CA that signed the relay's certificate in tls_ca_file, or install it in this machine's trust store",
            ),
        ),
        "smtp.tls-name-mismatch" => (
            (
                "El certificado TLS del servidor SMTP no es válido para ese nombre de host",
                "Ponga en host un nombre que el certificado incluya; si el servidor usa una CA privada, configure también tls_ca_file",
            ),
            (
                "The SMTP server's TLS certificate is not valid for the host name",
                "Set host to a name the certificate lists; if the relay uses a private CA, also set tls_ca_file",
            ),
        ),
        "smtp.tls-expired" => (
            (
                "El certificado TLS del servidor SMTP ha caducado o aún no es válido",
                "Pida al administrador del servidor que renueve el certificado y compruebe el reloj de esta máquina",
            ),
            (
                "The SMTP server's TLS certificate has expired or is not valid yet",
                "Ask the relay's administrator to renew the certificate and check this machine's clock",
            ),
        ),
        "smtp.tls-failed" => (
            (
                "Falló la negociación TLS con el servidor SMTP",
                "Compruebe que security casa con el puerto (465 usa tls; 587 y 25 usan starttls); si el servidor usa una CA privada, configure tls_ca_file",
            ),
            (
                "The TLS handshake with the SMTP server failed",
                "Check that security matches the port (465 uses tls, 587 and 25 use starttls); if the relay uses a private CA, set tls_ca_file",
            ),
        ),
        "smtp.tls-required" => (
            (
                "El servidor SMTP exige TLS",
                "Ponga security = \"starttls\" (puerto 587) o \"tls\" (puerto 465)",
            ),
            (
                "The SMTP server requires TLS",
                "Set security = \"starttls\" (port 587) or \"tls\" (port 465)",
            ),
        ),
        "smtp.tls-setup" => (
            (
                "No se puede preparar TLS",
                "Revise tls_ca_file y el almacén de confianza de esta máquina (/etc/ssl/certs)",
            ),
            (
                "Cannot set up TLS",
                "Check tls_ca_file and this machine's trust store (/etc/ssl/certs)",
            ),
        ),
        "smtp.starttls-unavailable" => (
            (
                "El servidor SMTP no ofrece STARTTLS",
                "Use security = \"tls\" si el puerto usa TLS implícito (normalmente 465); security = \"none\" solo se admite para un servidor en esta máquina",
            ),
            (
                "The SMTP server does not offer STARTTLS",
                "Use security = \"tls\" if the port uses implicit TLS (usually 465); security = \"none\" is allowed only for a relay on this machine",
            ),
        ),
        "smtp.auth-failed" => (
            (
                "El servidor SMTP rechazó el inicio de sesión",
                "Revise username (por defecto la dirección de la cuenta) y el secreto de la cuenta (la contraseña SMTP, o con auth = \"xoauth2\" un token válido); algunos servidores exigen una contraseña de aplicación",
            ),
            (
                "The SMTP server refused the login",
                "Check username (by default the account's address) and the account's secret (the SMTP password, or with auth = \"xoauth2\" a valid bearer token); some servers need an app password",
            ),
        ),
        "smtp.auth-disabled" => (
            (
                "SMTP AUTH está desactivado para este buzón o su inquilino",
                "En Office 365 active SMTP autenticado para el buzón (Centro de administración de Microsoft 365 > Usuarios activos > el usuario > Correo > Administrar aplicaciones de correo) y para el inquilino (Centro de administración de Exchange > Configuración > Flujo de correo); o use auth = \"xoauth2\" o el proveedor office365",
            ),
            (
                "SMTP AUTH is disabled for this mailbox or its tenant",
                "In Office 365, enable Authenticated SMTP for the mailbox (Microsoft 365 admin center > Active users > the user > Mail > Manage email apps) and for the tenant (Exchange admin center > Settings > Mail flow); or use auth = \"xoauth2\" or the office365 provider",
            ),
        ),
        "smtp.auth-required" => (
            (
                "El servidor SMTP solo acepta correo tras iniciar sesión",
                "Configure auth (password, plain, login o xoauth2) y el secreto de la cuenta",
            ),
            (
                "The SMTP server accepts mail only after login",
                "Set auth (password, plain, login or xoauth2) and the account's secret",
            ),
        ),
        "smtp.auth-unavailable" => (
            (
                "El servidor SMTP no ofrece el mecanismo de autenticación configurado",
                "Ponga en auth un mecanismo que el servidor ofrezca, o auth = \"none\" si acepta correo sin iniciar sesión",
            ),
            (
                "The SMTP server offers no authentication mechanism for the configured auth",
                "Set auth to a mechanism the server offers, or auth = \"none\" if the relay accepts mail without login",
            ),
        ),
        "smtp.send-as-denied" => (
            (
                "El servidor SMTP no permite a este usuario enviar como el remitente del mensaje",
                "Envíe desde la dirección del propio usuario, o conceda a ese usuario el permiso Enviar como sobre el buzón remitente",
            ),
            (
                "The SMTP server does not let this login send as the message's sender",
                "Send from the login's own address, or grant the login Send As permission on the sender's mailbox",
            ),
        ),
        "smtp.relay-denied" => (
            (
                "El servidor SMTP no permite reenviar a este destinatario",
                "Inicie sesión (auth y el secreto de la cuenta) o pida al administrador del servidor que permita el reenvío desde esta máquina",
            ),
            (
                "The SMTP server refuses to relay to this recipient",
                "Log in (auth and the account's secret), or ask the relay's administrator to allow relaying from this machine",
            ),
        ),
        "smtp.server-refused" => (
            (
                "El servidor SMTP rechazó la conexión",
                "Pida al administrador del servidor que acepte conexiones desde esta máquina",
            ),
            (
                "The SMTP server refused the connection",
                "Ask the server's administrator to accept connections from this machine",
            ),
        ),
        "smtp.sender-rejected" => (
            (
                "El servidor SMTP rechazó el remitente",
                "Revise la dirección de la cuenta; el servidor puede aceptar solo remitentes de sus dominios",
            ),
            (
                "The SMTP server refused the sender",
                "Check the account's address; the server may accept only its own domains as senders",
            ),
        ),
        "smtp.recipient-rejected" => (
            ("El servidor SMTP rechazó el destinatario", "Revise la dirección del destinatario"),
            ("The SMTP server refused the recipient", "Check the recipient's address"),
        ),
        "smtp.message-rejected" => (
            (
                "El servidor SMTP rechazó el mensaje",
                "Lea la respuesta del servidor: el contenido, el tamaño o el remitente pueden ser la causa",
            ),
            (
                "The SMTP server refused the message",
                "Read the server's reply: the content, the size or the sender may be the reason",
            ),
        ),
        "smtp.message-too-large" => (
            (
                "El mensaje supera el tamaño que acepta el servidor SMTP",
                "Envíe menos adjuntos o más pequeños, o comparta los ficheros grandes como enlaces",
            ),
            (
                "The message is larger than the SMTP server accepts",
                "Send fewer or smaller attachments, or share large files as links",
            ),
        ),
        "smtp.temporary-failure" => (
            ("El servidor SMTP no puede aceptar el mensaje ahora", "Inténtelo más tarde"),
            ("The SMTP server cannot take the message now", "Try again later"),
        ),
        "smtp.throttled" => (
            (
                "El servidor SMTP pide enviar más despacio",
                "Inténtelo más tarde; envíe menos mensajes por minuto",
            ),
            (
                "The SMTP server asks to slow down",
                "Try again later; send fewer messages per minute",
            ),
        ),
        "smtp.outcome-unknown" => (
            (
                "Se perdió la conexión con el servidor SMTP después de transmitir el mensaje",
                "El mensaje puede haberse entregado: busque su Message-ID en el buzón del destinatario o en el registro del servidor antes de volver a enviarlo",
            ),
            (
                "The connection to the SMTP server failed after the message was transmitted",
                "The message may have been delivered: look for its Message-ID in the recipient's mailbox or the server's log before sending it again",
            ),
        ),
        "smtp.extension-missing" => (
            (
                "El mensaje necesita una extensión (SMTPUTF8/8BITMIME) que el servidor SMTP no ofrece",
                "Use direcciones en ASCII o un servidor que admita correo internacionalizado",
            ),
            (
                "The message needs an extension (SMTPUTF8/8BITMIME) the SMTP server does not offer",
                "Use plain ASCII e-mail addresses, or a server that supports internationalised mail",
            ),
        ),
        "smtp.protocol" => (
            (
                "El cliente SMTP rechazó el intercambio con el servidor",
                "Consulte el registro (G360_MAIL_LOG=debug) y notifique el problema",
            ),
            (
                "The SMTP client refused the exchange",
                "Read the log (G360_MAIL_LOG=debug) and report the problem",
            ),
        ),
        "smtp.secret-missing" => (
            (
                "La cuenta no tiene secreto SMTP",
                "Ponga en secret la contraseña SMTP (con auth = \"xoauth2\", un token), o auth = \"none\" si el servidor no exige inicio de sesión",
            ),
            (
                "The account has no SMTP secret",
                "Set the account's secret to the SMTP password (with auth = \"xoauth2\", a bearer token), or set auth = \"none\" if the relay needs no login",
            ),
        ),
        "smtp.sender-missing" => (
            ("Falta la dirección de la cuenta (el remitente)", "Indique la dirección de la cuenta"),
            ("The account's address (the sender) is missing", "Give the account an address"),
        ),
        _ => return None,
    };
    Some(match lang {
        Lang::Es => es,
        Lang::En => en,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_translated_code_has_both_languages_and_differs() {
        for code in ["address.invalid", "message.no-recipient", "config.invalid", "unsupported"] {
            let es = error_text(code, Lang::Es).unwrap();
            let en = error_text(code, Lang::En).unwrap();
            assert_ne!(es.0, en.0, "{code}");
        }
        assert_eq!(error_text("nope", Lang::Es), None);
    }
}
