#![doc = include_str!("../README.md")]

use std::fmt;

mod cli_help;

pub use cli_help::{CLI_HELP_ES, cli_help_es};

/// Language of user-facing messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Lang {
    /// Spanish (the default).
    #[default]
    Es,
    /// English.
    En,
}

impl Lang {
    /// `"es"` or `"en"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Es => "es",
            Lang::En => "en",
        }
    }

    /// Parses `es` or `en` (case-insensitive).
    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim().to_ascii_lowercase().as_str() {
            "es" => Some(Lang::Es),
            "en" => Some(Lang::En),
            _ => None,
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A fixed text of the CLI.
#[allow(missing_docs, reason = "each variant's text is its documentation")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Msg {
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
    NeedsSecretUnless,
    Or,
    CsvInvalid,
    Line,
    Sent,
    Failed,
    MailsPerSecond,
    Queued,
    OutboxWorkerDone,
    StateQueued,
    StateSending,
    StateSent,
    StateFailed,
    Recovered,
    Retried,
    NeedsLookup,
    Guarantee,
    Purged,
    ConfigUnreadable,
    SetupProblems,
    MessagesRead,
    Note,
    // outbox: status per mailbox, shutdown
    OutboxInterrupted,
    OutboxNow,
    OutboxNextSend,
    OutboxLastMinute,
    OutboxLastDay,
    OutboxOldest,
    // verify: checks not run
    CheckNotRun,
    CheckNotRequested,
    // the state of one outbox mail (`outbox list`, `outbox show`)
    MailQueued,
    MailSending,
    MailSent,
    MailFailed,
    // clap: help headings and usage errors
    HelpUsage,
    HelpCommands,
    HelpCommand,
    HelpOptions,
    /// The placeholder of the options in usage lines (`[OPCIONES]`).
    HelpOptionsPlaceholder,
    HelpArguments,
    HelpDefault,
    HelpPossibleValues,
    HelpMoreInfo,
    HelpTip,
    UsageInvalid,
    UsageUnknownArgument,
    UsageMissingArgument,
    UsageInvalidValue,
    UsageConflict,
    UsageUnknownCommand,
    UsageMissingCommand,
    UsageTooManyValues,
    UsageWrongNumberOfValues,
    UsageArgumentOnce,
    ExitCodesHelp,
}

impl Msg {
    /// The text in `lang`.
    pub fn text(self, lang: Lang) -> &'static str {
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
            (Msg::NeedsSecretUnless, Es) => "necesita secreto salvo con",
            (Msg::NeedsSecretUnless, En) => "needs a secret except with",
            (Msg::Or, Es) => "o",
            (Msg::Or, En) => "or",
            (Msg::CsvInvalid, Es) => "Hay filas que no se pueden enviar; no se ha enviado nada",
            (Msg::CsvInvalid, En) => "Some rows cannot be sent; nothing was sent",
            (Msg::Line, Es) => "línea",
            (Msg::Line, En) => "line",
            (Msg::Sent, Es) => "Enviados",
            (Msg::Sent, En) => "Sent",
            (Msg::Failed, Es) => "Fallidos",
            (Msg::Failed, En) => "Failed",
            (Msg::MailsPerSecond, Es) => "e-mails/s",
            (Msg::MailsPerSecond, En) => "mails/s",
            (Msg::Queued, Es) => "Encolado en la bandeja de salida",
            (Msg::Queued, En) => "Queued in the outbox",
            (Msg::OutboxWorkerDone, Es) => "Bandeja de salida procesada",
            (Msg::OutboxWorkerDone, En) => "Outbox worker finished",
            (Msg::StateQueued, Es) => "en cola",
            (Msg::StateQueued, En) => "queued",
            (Msg::StateSending, Es) => "enviando",
            (Msg::StateSending, En) => "sending",
            (Msg::StateSent, Es) => "enviados",
            (Msg::StateSent, En) => "sent",
            (Msg::StateFailed, Es) => "fallidos",
            (Msg::StateFailed, En) => "failed",
            (Msg::Recovered, Es) => "ya enviados antes (encontrados)",
            (Msg::Recovered, En) => "found already sent",
            (Msg::Retried, Es) => "reintentos programados",
            (Msg::Retried, En) => "retries scheduled",
            (Msg::NeedsLookup, Es) => "pendientes de comprobar si ya se enviaron",
            (Msg::NeedsLookup, En) => "to be looked up before any resend",
            (Msg::Guarantee, Es) => "Garantía",
            (Msg::Guarantee, En) => "Guarantee",
            (Msg::Purged, Es) => "Eliminados",
            (Msg::Purged, En) => "Purged",
            (Msg::ConfigUnreadable, Es) => "No se puede leer la configuración",
            (Msg::ConfigUnreadable, En) => "Cannot read the configuration",
            (Msg::SetupProblems, Es) => {
                "Hay datos de la configuración que corregir (las cuentas afectadas no pueden enviar)"
            }
            (Msg::MessagesRead, Es) => "mensajes leídos",
            (Msg::MessagesRead, En) => "messages read",
            (Msg::Note, Es) => "Aviso",
            (Msg::Note, En) => "Note",
            (Msg::SetupProblems, En) => {
                "Some setup values must be fixed (the accounts concerned cannot send)"
            }
            // outbox: status per mailbox, shutdown
            (Msg::OutboxInterrupted, Es) => {
                "cortados al acabar el plazo (se comprobarán antes de reenviar)"
            }
            (Msg::OutboxInterrupted, En) => {
                "cut off at the end of the grace period (looked up before any resend)"
            }
            (Msg::OutboxNow, Es) => "ahora",
            (Msg::OutboxNow, En) => "now",
            (Msg::OutboxNextSend, Es) => "próximo envío",
            (Msg::OutboxNextSend, En) => "next send",
            (Msg::OutboxLastMinute, Es) => "enviados en el último minuto",
            (Msg::OutboxLastMinute, En) => "sent in the last minute",
            (Msg::OutboxLastDay, Es) => "en el último día",
            (Msg::OutboxLastDay, En) => "in the last day",
            (Msg::OutboxOldest, Es) => "el más antiguo en cola hace",
            (Msg::OutboxOldest, En) => "oldest queued",
            (Msg::CheckNotRun, Es) => "no se ha hecho: ha fallado una comprobación anterior",
            (Msg::CheckNotRun, En) => "not run: an earlier check failed",
            (Msg::CheckNotRequested, Es) => "no pedido (use --send-test-to)",
            (Msg::CheckNotRequested, En) => "not requested (use --send-test-to)",
            (Msg::MailQueued, Es) => "en cola",
            (Msg::MailQueued, En) => "queued",
            (Msg::MailSending, Es) => "enviando",
            (Msg::MailSending, En) => "sending",
            (Msg::MailSent, Es) => "enviado",
            (Msg::MailSent, En) => "sent",
            (Msg::MailFailed, Es) => "fallido",
            (Msg::MailFailed, En) => "failed",
            (Msg::HelpUsage, Es) => "Uso",
            (Msg::HelpUsage, En) => "Usage",
            (Msg::HelpCommands, Es) => "Comandos",
            (Msg::HelpCommands, En) => "Commands",
            (Msg::HelpCommand, Es) => "COMANDO",
            (Msg::HelpCommand, En) => "COMMAND",
            (Msg::HelpOptions, Es) => "Opciones",
            (Msg::HelpOptions, En) => "Options",
            (Msg::HelpOptionsPlaceholder, Es) => "OPCIONES",
            (Msg::HelpOptionsPlaceholder, En) => "OPTIONS",
            (Msg::HelpArguments, Es) => "Argumentos",
            (Msg::HelpArguments, En) => "Arguments",
            (Msg::HelpDefault, Es) => "por defecto",
            (Msg::HelpDefault, En) => "default",
            (Msg::HelpPossibleValues, Es) => "valores posibles",
            (Msg::HelpPossibleValues, En) => "possible values",
            (Msg::HelpMoreInfo, Es) => "Para más información, pruebe con '--help'.",
            (Msg::HelpMoreInfo, En) => "For more information, try '--help'.",
            (Msg::HelpTip, Es) => "sugerencia",
            (Msg::HelpTip, En) => "tip",
            (Msg::UsageInvalid, Es) => "uso incorrecto",
            (Msg::UsageInvalid, En) => "invalid usage",
            (Msg::UsageUnknownArgument, Es) => "argumento no esperado",
            (Msg::UsageUnknownArgument, En) => "unexpected argument",
            (Msg::UsageMissingArgument, Es) => "faltan argumentos obligatorios",
            (Msg::UsageMissingArgument, En) => "required arguments were not provided",
            (Msg::UsageInvalidValue, Es) => "valor no válido",
            (Msg::UsageInvalidValue, En) => "invalid value",
            (Msg::UsageConflict, Es) => "estos argumentos no se pueden usar juntos",
            (Msg::UsageConflict, En) => "these arguments cannot be used together",
            (Msg::UsageUnknownCommand, Es) => "comando desconocido",
            (Msg::UsageUnknownCommand, En) => "unrecognized subcommand",
            (Msg::UsageMissingCommand, Es) => "falta el comando",
            (Msg::UsageMissingCommand, En) => "a subcommand is required",
            (Msg::UsageTooManyValues, Es) => "demasiados valores",
            (Msg::UsageTooManyValues, En) => "too many values",
            (Msg::UsageWrongNumberOfValues, Es) => "número de valores incorrecto",
            (Msg::UsageWrongNumberOfValues, En) => "wrong number of values",
            (Msg::UsageArgumentOnce, Es) => "este argumento solo se puede dar una vez",
            (Msg::UsageArgumentOnce, En) => "this argument cannot be used more than once",
            (Msg::ExitCodesHelp, Es) => EXIT_CODES_HELP_ES,
            (Msg::ExitCodesHelp, En) => EXIT_CODES_HELP_EN,
        }
    }
}

/// The exit codes as `g360-mail --help` shows them in English (the README
/// has the same table).
const EXIT_CODES_HELP_EN: &str = "\
Exit codes (stable):
  0  success
  1  anything else (not found, unsupported, unexpected)
  2  usage or configuration error
  3  authentication or permission (setup) error
  4  message rejected
  5  temporarily unavailable or throttled: retry later
  6  outcome unknown: do not resend; look the mail up (Sent Items)

With --json every result is one JSON object on stdout carrying \"exit_code\";
a send whose outcome is unknown says \"outcome\": \"unknown\".";

/// The exit codes in Spanish.
const EXIT_CODES_HELP_ES: &str = "\
Códigos de salida (estables):
  0  correcto
  1  cualquier otro caso (no encontrado, no admitido, inesperado)
  2  error de uso o de configuración
  3  error de autenticación o de permisos (configuración de la cuenta)
  4  mensaje rechazado
  5  no disponible de momento o limitado: vuelva a intentarlo más tarde
  6  resultado desconocido: no lo reenvíe; busque el e-mail (Elementos enviados)

Con --json cada resultado es un objeto JSON en la salida estándar con \"exit_code\";
un envío de resultado desconocido lleva \"outcome\": \"unknown\".";

/// What a passed check proved, by the check's stable name
/// ([`g360_mail_core::Check::name`]). The provider's own detail (paths,
/// tenant, roles, in English) follows it on the line.
pub fn check_pass_text(name: &str, lang: Lang) -> Option<&'static str> {
    let (es, en) = match name {
        "configuration" => (
            "Los datos de la integración tienen la forma correcta",
            "The integration's settings are well formed",
        ),
        "tenant" => ("El inquilino existe", "The tenant exists"),
        "token" => ("Microsoft entregó un token de la aplicación", "Microsoft issued an app token"),
        "permissions" => {
            ("La aplicación tiene los permisos de correo", "The app holds the mail permissions")
        }
        "mailbox" => ("El buzón es accesible", "The mailbox is reachable"),
        "test-mail" => ("El e-mail de prueba se envió", "The test mail was sent"),
        "directory" => ("La carpeta del buzón existe", "The mailbox directory exists"),
        "writable" => {
            ("Se puede escribir en la carpeta del buzón", "The mailbox directory is writable")
        }
        "connect" => ("Conectado con el servidor SMTP", "Connected to the SMTP server"),
        "tls" => ("La conexión es segura", "The connection is secure"),
        "ehlo" => ("El servidor SMTP respondió al saludo", "The SMTP server answered the greeting"),
        "auth" => ("Sesión iniciada en el servidor SMTP", "Logged in to the SMTP server"),
        _ => return None,
    };
    Some(match lang {
        Lang::Es => es,
        Lang::En => en,
    })
}

/// A check's line in `lang`: its detail and, when something is wrong, its
/// remedy. Failures and warnings are translated by code, passed checks by
/// name, skipped ones by [`Msg::CheckNotRun`]; the provider's own English
/// detail follows a Spanish text after a dash.
pub fn check_text(check: &g360_mail_core::Check, lang: Lang) -> (String, Option<String>) {
    use g360_mail_core::CheckStatus;
    match check.status {
        CheckStatus::Skipped => {
            let msg = if check.detail == "not requested" {
                Msg::CheckNotRequested
            } else {
                Msg::CheckNotRun
            };
            (msg.text(lang).to_owned(), None)
        }
        CheckStatus::Pass => match (lang, check_pass_text(&check.name, lang)) {
            (Lang::Es, Some(text)) => (format!("{text} — {}", check.detail), None),
            _ => (check.detail.clone(), None),
        },
        CheckStatus::Fail | CheckStatus::Warn => {
            match check
                .code
                .as_deref()
                .and_then(|code| error_text_at(code, check.key.as_deref(), lang))
            {
                Some((m, r)) => (format!("{m} — {}", check.detail), Some(r.to_owned())),
                None => (check.detail.clone(), check.remedy.clone()),
            }
        }
    }
}

/// The description of a provider type in `lang` (`g360-mail providers`),
/// keyed by its type string (`office365`, `smtp`, `file`).
pub fn provider_description(provider_type: &str, lang: Lang) -> Option<&'static str> {
    let (es, en) = match provider_type {
        "file" => (
            "guarda cada e-mail como un fichero .eml en una carpeta local; para desarrollo, sin cuenta",
            "writes each mail as an .eml file into a local directory; for development, no account needed",
        ),
        "office365" => (
            "buzón de Office 365 / Microsoft 365 a través de Microsoft Graph (Mail.Send, Mail.Read)",
            "Office 365 / Microsoft 365 mailbox through Microsoft Graph (Mail.Send, Mail.Read)",
        ),
        "smtp" => (
            "envío por SMTP (STARTTLS o TLS implícito; contraseña, XOAUTH2 o los tokens OAuth de una aplicación de office365); solo envía",
            "SMTP submission (STARTTLS or implicit TLS; password, XOAUTH2 or an office365 app's OAuth tokens); sends only",
        ),
        _ => return None,
    };
    Some(match lang {
        Lang::Es => es,
        Lang::En => en,
    })
}

/// What [`count`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Noun {
    /// `[[integrations]]` entries.
    Integration,
    /// Mail accounts of ERP users.
    Account,
    /// Problems of a configuration.
    Problem,
}

/// `n` and the noun, singular or plural: "1 integración", "2 accounts".
pub fn count(n: usize, noun: Noun, lang: Lang) -> String {
    let (one, many) = match (noun, lang) {
        (Noun::Integration, Lang::Es) => ("integración", "integraciones"),
        (Noun::Integration, Lang::En) => ("integration", "integrations"),
        (Noun::Account, Lang::Es) => ("cuenta", "cuentas"),
        (Noun::Account, Lang::En) => ("account", "accounts"),
        (Noun::Problem, Lang::Es) => ("problema", "problemas"),
        (Noun::Problem, Lang::En) => ("problem", "problems"),
    };
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The message and remedy of an error in `lang`: from the table by code
/// when known, else the provider's own (English) text. In English the
/// provider's own remedy, usually more precise, wins over the table's.
pub fn localized(err: &g360_mail_core::Error, lang: Lang) -> (String, Option<String>) {
    match err.code().and_then(|c| error_text_at(c, err.context_value("key"), lang)) {
        Some((m, r)) if lang == Lang::Es || err.remedy().is_none() => {
            (m.to_owned(), Some(r.to_owned()))
        }
        Some((m, _)) => (m.to_owned(), err.remedy().map(str::to_owned)),
        None => (err.message().to_owned(), err.remedy().map(str::to_owned)),
    }
}

/// [`error_text`] of a problem about the configuration key `key` (an
/// error's `key` context, a check's [`key`](g360_mail_core::Check::key), the
/// last part of a problem's path): the renewal remedy of an expired or
/// expiring certificate names where the certificate comes from —
/// `certificate_file`, `certificate_env`, or `certificate` (PEM texts the
/// ERP gives) — instead of always naming the files.
pub fn error_text_at(
    code: &str,
    key: Option<&str>,
    lang: Lang,
) -> Option<(&'static str, &'static str)> {
    let (message, remedy) = error_text(code, lang)?;
    let remedy = match (code, key, lang) {
        ("o365.certificate-expired", Some("certificate_env"), Lang::Es) => {
            "Cree un certificado nuevo (openssl req -x509 -newkey rsa:2048 ...), súbalo en Entra ID > Registros de aplicaciones > la aplicación > Certificados y secretos > Certificados, ponga el certificado PEM nuevo y su clave en las variables de entorno que nombran certificate_env y private_key_env y reinicie el servicio"
        }
        ("o365.certificate-expired", Some("certificate_env"), Lang::En) => {
            "Make a new certificate (openssl req -x509 -newkey rsa:2048 ...), upload it in Entra ID > App registrations > the app > Certificates & secrets > Certificates, put the new PEM certificate and its key in the environment variables that certificate_env and private_key_env name, and restart the service"
        }
        ("o365.certificate-expired", Some("certificate"), Lang::Es) => {
            "Cree un certificado nuevo (openssl req -x509 -newkey rsa:2048 ...), súbalo en Entra ID > Registros de aplicaciones > la aplicación > Certificados y secretos > Certificados y sustituya en el ERP el certificado y la clave privada de la integración por los nuevos"
        }
        ("o365.certificate-expired", Some("certificate"), Lang::En) => {
            "Make a new certificate (openssl req -x509 -newkey rsa:2048 ...), upload it in Entra ID > App registrations > the app > Certificates & secrets > Certificates, and replace the integration's certificate and private key in the ERP with the new ones"
        }
        ("o365.certificate-expiring", Some("certificate_env"), Lang::Es) => {
            "Antes de que caduque, cree un certificado nuevo, súbalo en Entra ID > Registros de aplicaciones > la aplicación > Certificados y secretos > Certificados, ponga el certificado PEM nuevo y su clave en las variables de entorno que nombran certificate_env y private_key_env y reinicie el servicio"
        }
        ("o365.certificate-expiring", Some("certificate_env"), Lang::En) => {
            "Before it expires, make a new certificate, upload it in Entra ID > App registrations > the app > Certificates & secrets > Certificates, put the new PEM certificate and its key in the environment variables that certificate_env and private_key_env name, and restart the service"
        }
        ("o365.certificate-expiring", Some("certificate"), Lang::Es) => {
            "Antes de que caduque, cree un certificado nuevo, súbalo en Entra ID > Registros de aplicaciones > la aplicación > Certificados y secretos > Certificados y sustituya en el ERP el certificado y la clave privada de la integración por los nuevos"
        }
        ("o365.certificate-expiring", Some("certificate"), Lang::En) => {
            "Before it expires, make a new certificate, upload it in Entra ID > App registrations > the app > Certificates & secrets > Certificates, and replace the integration's certificate and private key in the ERP with the new ones"
        }
        _ => remedy,
    };
    Some((message, remedy))
}

/// The translated message and remedy of a diagnostic code, when known.
/// `{}` placeholders are not used: details stay in the context lines.
pub fn error_text(code: &str, lang: Lang) -> Option<(&'static str, &'static str)> {
    let (es, en) = match code {
        // outbox: opening the database
        "outbox.open-file" => (
            (
                "No se puede abrir el fichero de la bandeja de salida",
                "Compruebe que la carpeta de la url de [outbox] existe y que este usuario puede escribir en ella",
            ),
            (
                "Cannot open the outbox database file",
                "Check that the folder of the [outbox] url exists and that this user may write in it",
            ),
        ),
        "outbox.tls" => (
            (
                "No se puede abrir una conexión TLS con la base de datos de la bandeja de salida",
                "La url pide TLS (sslmode=require o verify-full): active ssl en el servidor PostgreSQL y, con verify-full, indique el fichero de la CA que firmó su certificado con sslrootcert=/ruta/ca.pem",
            ),
            (
                "Cannot open a TLS connection to the outbox database",
                "The url asks for TLS (sslmode=require or verify-full): turn ssl on in the PostgreSQL server, and for verify-full name the CA file that signed its certificate with sslrootcert=/path/ca.pem",
            ),
        ),
        "outbox.metrics-addr" => (
            (
                "No se puede escuchar en la dirección de las métricas",
                "Elija un puerto libre, o una dirección de esta máquina, en --metrics-addr",
            ),
            (
                "Cannot listen for metrics",
                "Choose a free port, or an address of this machine, for --metrics-addr",
            ),
        ),
        "outbox.worker" => (
            (
                "La tarea del procesador de la bandeja de salida falló",
                "Es un error interno: informe del caso con el registro; los correos en curso se revisarán antes de reenviarse",
            ),
            (
                "The outbox worker task failed",
                "This is an internal error: report it with the log; mails in flight are looked up before any resend",
            ),
        ),
        "outbox.mailbox-busy" => (
            (
                "El buzón está en sus límites de envío (compartidos con la bandeja de salida)",
                "Envíe más tarde, o ponga el e-mail en la bandeja de salida (send --queue), que espera al buzón por sí misma",
            ),
            (
                "The mailbox is at its sending limits (shared with the outbox)",
                "Send later, or queue the mail with the outbox (send --queue), which waits for the mailbox by itself",
            ),
        ),
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
        // Codes of the file, mime, outbox and Graph-answer paths (checked by
        // `cargo xtask tidy`: every literal code has a text here).
        "address.unsupported" => (
            (
                "Esta dirección no se puede escribir en un mensaje MIME",
                "Use una dirección con nombre de dominio (usuario@ejemplo.com), no una IP literal",
            ),
            (
                "This address cannot be written in a MIME message",
                "Use an address with a domain name (user@example.com), not a literal IP",
            ),
        ),
        "file.io" => (
            (
                "No se pudo leer o escribir en la carpeta del buzón",
                "Compruebe que el disco no está lleno y que la carpeta es accesible; después, vuelva a intentarlo",
            ),
            (
                "Cannot read or write the mailbox directory",
                "Check that the disk is not full and the directory is reachable, then try again",
            ),
        ),
        "file.not-a-directory" => (
            (
                "La ruta del buzón no es una carpeta",
                "Indique en directory una carpeta, o quite el archivo que ocupa esa ruta",
            ),
            (
                "The mailbox path is not a directory",
                "Point the integration's directory at a directory, or remove the file in its way",
            ),
        ),
        "file.permission-denied" => (
            (
                "Sin permiso sobre la carpeta del buzón",
                "Dé al proceso permiso de escritura en la carpeta, o indique en directory una ruta con permiso",
            ),
            (
                "No permission on the mailbox directory",
                "Give the process write access to the directory, or set directory to a writable path",
            ),
        ),
        "file.symlink-refused" => (
            (
                "Hay un enlace simbólico en la carpeta del buzón",
                "Quite el enlace: el buzón solo escribe y lee sus propios ficheros, nunca a través de enlaces",
            ),
            (
                "A symbolic link is in the mailbox directory",
                "Remove the link: the mailbox writes and reads its own files only, never through links",
            ),
        ),
        "folder.not-found" => (
            (
                "Este proveedor no tiene esa carpeta",
                "Use inbox o sentitems: ambas muestran la carpeta del buzón",
            ),
            (
                "This provider has no such folder",
                "Use inbox or sentitems: both list the mailbox directory",
            ),
        ),
        "message.id-invalid" => (
            (
                "Identificador de mensaje no válido",
                "Copie el identificador tal como lo muestra inbox",
            ),
            ("Invalid message id", "Copy the id exactly as inbox shows it"),
        ),
        "message.not-found" => (
            (
                "No hay ningún mensaje con ese identificador en el buzón",
                "Consulte inbox para ver los identificadores de sus mensajes",
            ),
            (
                "No message with this id in the mailbox",
                "List the mailbox with inbox to see the ids of its messages",
            ),
        ),
        "mime.build" => (
            (
                "No se pudo componer el mensaje MIME",
                "Es un error interno: informe del caso con el identificador del mensaje",
            ),
            (
                "Cannot build the MIME message",
                "This is an internal error: report it with the message's uid",
            ),
        ),
        "mime.unparsable" => (
            (
                "El mensaje guardado no se puede leer como RFC 5322",
                "Compruebe que el mensaje guardado es un archivo .eml completo",
            ),
            (
                "The stored message cannot be parsed as RFC 5322",
                "Check that the stored message is a complete .eml file",
            ),
        ),
        "o365.bad-answer" => (
            (
                "Microsoft Graph dio una respuesta que no se puede interpretar",
                "Vuelva a intentarlo; si se repite, informe del caso con el request-id",
            ),
            (
                "Microsoft Graph gave an answer that cannot be understood",
                "Try again; if it happens again, report it with the request id",
            ),
        ),
        "o365.http-client" => (
            (
                "No se pudo preparar el cliente HTTP",
                "Compruebe los certificados de CA configurados y vuelva a intentarlo",
            ),
            ("Cannot set up the HTTP client", "Check the configured CA certificates and try again"),
        ),
        "outbox.age" => (
            ("Antigüedad no válida", "Escriba un número seguido de d, h o m, por ejemplo 30d"),
            ("Invalid age", "Write a number followed by d, h or m, for example 30d"),
        ),
        "outbox.corrupt" => (
            (
                "La base de datos de la cola de salida contiene un valor no válido",
                "Restaure la base de datos desde una copia; no la modifique a mano",
            ),
            (
                "The outbox database holds an invalid value",
                "Restore the database from a backup; do not edit it by hand",
            ),
        ),
        "outbox.message-unreadable" => (
            (
                "El mensaje guardado en la cola no se puede leer",
                "Lo guardó una versión más nueva de g360-mail: actualice esta instalación",
            ),
            (
                "The queued message cannot be read",
                "A newer version of g360-mail stored it: upgrade this installation",
            ),
        ),
        "outbox.no-user" => (
            ("Falta el usuario en cuyo nombre se envía", "Indique el usuario del ERP con --user"),
            ("The user to send as is empty", "Name the ERP user with --user"),
        ),
        "query.continuation" => (
            (
                "Token de continuación no válido",
                "Pase sin cambios el token de la página anterior, o ninguno para la primera",
            ),
            (
                "Invalid continuation token",
                "Pass the token of the previous page unchanged, or none for the first page",
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
        "csv.invalid" => (
            (
                "El fichero CSV no es válido",
                "La primera línea nombra las columnas (to, cc, bcc, subject, body, html_file, attach); cada línea tiene tantos campos como la cabecera",
            ),
            (
                "The CSV file is invalid",
                "The first line names the columns (to, cc, bcc, subject, body, html_file, attach); every line has as many fields as the header",
            ),
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
                "En Office 365 active SMTP autenticado para el buzón (Centro de administración de Microsoft 365 > Usuarios activos > el usuario > Correo > Administrar aplicaciones de correo, o Set-CASMailbox <dirección> -SmtpClientAuthenticationDisabled $false) y, si hace falta, para el inquilino (Centro de administración de Exchange > Configuración > Flujo de correo: desmarque la opción que desactiva el protocolo SMTP AUTH para la organización); si los valores predeterminados de seguridad bloquean la autenticación básica, use auth = \"xoauth2\" o el proveedor office365",
            ),
            (
                "SMTP AUTH is disabled for this mailbox or its tenant",
                "In Office 365, enable Authenticated SMTP for the mailbox (Microsoft 365 admin center > Active users > the user > Mail > Manage email apps, or Set-CASMailbox <address> -SmtpClientAuthenticationDisabled $false) and, if needed, for the tenant (Exchange admin center > Settings > Mail flow: clear \"Turn off SMTP AUTH protocol for your organization\"); if Security defaults block basic authentication, use auth = \"xoauth2\" or the office365 provider",
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
                "Ponga en auth un mecanismo que el servidor ofrezca, o auth = \"none\" si acepta correo sin iniciar sesión; algunos servidores solo ofrecen AUTH tras STARTTLS",
            ),
            (
                "The SMTP server offers no authentication mechanism for the configured auth",
                "Set auth to a mechanism the server offers, or auth = \"none\" if the relay accepts mail without login; some servers offer AUTH only after STARTTLS",
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
        // SMTP transport safety: STARTTLS injection, deadlines, plaintext.
        "smtp.starttls-injection" => (
            (
                "El servidor SMTP envió datos que nadie pidió antes de empezar TLS: alguien en la red puede estar manipulando la conexión",
                "No se envió nada; revise el camino de red hasta el servidor (un proxy o cortafuegos que reescriba SMTP), o use security = \"tls\" (puerto 465) si el servidor lo ofrece",
            ),
            (
                "The SMTP server sent data nobody asked for before TLS began: someone on the network may be tampering with the connection",
                "Nothing was sent; check the network path to the server (a proxy or firewall that rewrites SMTP), or use security = \"tls\" (port 465) where the server offers it",
            ),
        ),
        "smtp.bad-reply" => (
            (
                "La respuesta del servidor SMTP no es SMTP válido",
                "Compruebe que host y port apuntan a un servidor SMTP y que security corresponde al puerto",
            ),
            (
                "The SMTP server's reply is not valid SMTP",
                "Check that host and port point at an SMTP server, and that security matches the port",
            ),
        ),
        "smtp.send-timeout" => (
            (
                "El envío no terminó dentro de send_timeout_ms; el mensaje no se entregó",
                "Inténtelo más tarde; si el servidor es lento o el mensaje grande, aumente send_timeout_ms",
            ),
            (
                "The send did not finish within send_timeout_ms; the message was not delivered",
                "Try again later; if the server is slow or the message large, raise send_timeout_ms",
            ),
        ),
        "smtp.plaintext-refused" => (
            (
                "security = \"none\" solo se admite para un servidor en esta máquina, y el host resuelve a otra dirección",
                "Use security = \"starttls\" (puerto 587) o \"tls\" (puerto 465); solo si el camino de red es de confianza, ponga allow_insecure_dangerous = true",
            ),
            (
                "security = \"none\" is allowed only for a relay on this machine, and the host resolves elsewhere",
                "Use security = \"starttls\" (port 587) or \"tls\" (port 465); only if the network path is trusted, set allow_insecure_dangerous = true",
            ),
        ),
        "smtp.auth-in-clear" => (
            (
                "El inicio de sesión viajaría sin TLS",
                "Use security = \"starttls\" o \"tls\", o auth = \"none\" para un servidor que no pide inicio de sesión",
            ),
            (
                "The login would travel without TLS",
                "Use security = \"starttls\" or \"tls\", or auth = \"none\" for a relay that needs no login",
            ),
        ),
        // SMTP without Basic authentication: Exchange Online tokens (auth = "oauth2").
        "smtp.basic-auth-retired" => (
            (
                "Exchange Online ya no acepta contraseñas para SMTP AUTH (la autenticación básica está desactivada)",
                "Ponga auth = \"oauth2\" y oauth_integration = \"<id de la integración office365>\": el proveedor inicia sesión con los tokens de la aplicación de Entra, que necesita el permiso SMTP.SendAsApp de Office 365 Exchange Online",
            ),
            (
                "Exchange Online no longer accepts a password for SMTP AUTH (Basic authentication is switched off)",
                "Set auth = \"oauth2\" and oauth_integration = \"<id of the office365 integration>\": the provider then logs in with the Entra app's tokens; the app needs the Office 365 Exchange Online permission SMTP.SendAsApp",
            ),
        ),
        "smtp.oauth-refused" => (
            (
                "El servidor SMTP rechazó el token de acceso de la aplicación",
                "En Entra ID > Registros de aplicaciones > la aplicación > Permisos de API, añada el permiso de aplicación SMTP.SendAsApp de Office 365 Exchange Online y conceda el consentimiento de administrador; en PowerShell de Exchange Online registre la entidad de servicio (New-ServicePrincipal -AppId <id de cliente> -ObjectId <id de objeto de la aplicación empresarial>) y dele el buzón (Add-MailboxPermission -Identity <dirección> -User <id de la entidad de servicio> -AccessRights FullAccess); SMTP AUTH debe estar activado para el buzón",
            ),
            (
                "The SMTP server refused the app's access token",
                "In Entra ID > App registrations > the app > API permissions, add the application permission SMTP.SendAsApp of Office 365 Exchange Online and grant admin consent; in Exchange Online PowerShell register the app's service principal (New-ServicePrincipal -AppId <client id> -ObjectId <object id of the enterprise application>) and give it the mailbox (Add-MailboxPermission -Identity <address> -User <service principal id> -AccessRights FullAccess); SMTP AUTH must be enabled for the mailbox",
            ),
        ),
        "smtp.oauth-unresolved" => (
            (
                "auth = \"oauth2\" no tiene de dónde sacar los tokens",
                "Ponga en oauth_integration el id de una integración office365",
            ),
            (
                "auth = \"oauth2\" has no token source",
                "Set oauth_integration to the id of an office365 integration",
            ),
        ),
        "config.no-token-source" => (
            (
                "Esa integración no emite tokens de acceso",
                "Ponga en oauth_integration el id de una integración office365",
            ),
            (
                "That integration issues no access tokens",
                "Set oauth_integration to the id of an office365 integration",
            ),
        ),
        "o365.client-id-missing" => (
            (
                "Falta el Id. de aplicación (cliente)",
                "Copie el Id. de aplicación (cliente) de Entra ID > Registros de aplicaciones > la aplicación > Información general en client_id de la integración",
            ),
            (
                "The application (client) ID is missing",
                "Copy the Application (client) ID from Entra ID > App registrations > the app > Overview into the integration's client_id",
            ),
        ),
        "o365.client-id-invalid" => (
            (
                "El Id. de aplicación (cliente) no es un GUID",
                "Copie el Id. de aplicación (cliente), un GUID como 11111111-2222-3333-4444-555555555555, de Entra ID > Registros de aplicaciones > la aplicación > Información general",
            ),
            (
                "The application (client) ID is not a GUID",
                "Copy the Application (client) ID, a GUID like 11111111-2222-3333-4444-555555555555, from Entra ID > App registrations > the app > Overview",
            ),
        ),
        "o365.tenant-id-missing" => (
            (
                "Falta el Id. de directorio (inquilino)",
                "Copie el Id. de directorio (inquilino) de Entra ID > Registros de aplicaciones > la aplicación > Información general en tenant_id de la integración",
            ),
            (
                "The directory (tenant) ID is missing",
                "Copy the Directory (tenant) ID from Entra ID > App registrations > the app > Overview into the integration's tenant_id",
            ),
        ),
        "o365.tenant-id-invalid" => (
            (
                "El Id. de directorio (inquilino) no es un GUID ni un dominio",
                "Copie el Id. de directorio (inquilino), un GUID, de Entra ID > Información general, o use un dominio verificado como contoso.onmicrosoft.com",
            ),
            (
                "The directory (tenant) ID is neither a GUID nor a domain",
                "Copy the Directory (tenant) ID, a GUID, from Entra ID > Overview, or use a verified domain such as contoso.onmicrosoft.com",
            ),
        ),
        "o365.whitespace" => (
            (
                "Un valor copiado tiene espacios o saltos de línea alrededor",
                "Quite los espacios o saltos de línea del valor que nombra el detalle (client_id, tenant_id o el secreto de la cuenta, el campo Token de G360 ERP), o vuelva a copiarlo del portal de Entra ID",
            ),
            (
                "A copied value has spaces or line breaks around it",
                "Remove the spaces or line breaks around the value the detail names (client_id, tenant_id or the account's secret, the Token field in G360 ERP), or copy it again from the Entra ID portal",
            ),
        ),
        "o365.secret-is-id" => (
            (
                "El secreto parece un GUID: casi seguro es el ID del secreto, no su valor",
                "En Entra ID > Registros de aplicaciones > la aplicación > Certificados y secretos, copie la columna Valor (solo se muestra al crear el secreto; si está oculta, cree uno nuevo) en el Token de la cuenta de correo",
            ),
            (
                "The secret looks like a GUID: almost surely the Secret ID, not the secret's Value",
                "In Entra ID > App registrations > the app > Certificates & secrets, copy the Value column (shown only when the secret is created; create a new one if it is hidden) into the account's secret (Token field in G360 ERP)",
            ),
        ),
        "o365.secret-missing" => (
            (
                "La cuenta no tiene secreto de cliente",
                "Pegue el Valor del secreto de cliente (Entra ID > Certificados y secretos) en el Token de la cuenta de correo",
            ),
            (
                "The account has no client secret",
                "Paste the client secret Value from Entra ID > Certificates & secrets into the account's secret (Token field in G360 ERP)",
            ),
        ),
        // Certificate credentials, expiry and rotation of the app's
        // credential (issue 13).
        "o365.tls-ca-file" => (
            (
                "No se puede usar el archivo de CA de tls_ca_file",
                "Indique en tls_ca_file el certificado PEM (-----BEGIN CERTIFICATE-----) de la CA de la empresa con la que el proxy inspecciona TLS, en un archivo que el servicio pueda leer",
            ),
            (
                "The CA file of tls_ca_file cannot be used",
                "Point tls_ca_file at the PEM certificate (-----BEGIN CERTIFICATE-----) of the company CA the proxy inspects TLS with, in a file the service may read",
            ),
        ),
        "o365.certificate-unreadable" => (
            (
                "No se puede leer el certificado o su clave privada",
                "Indique en certificate_file el certificado PEM que subió a la aplicación (-----BEGIN CERTIFICATE-----) y en private_key_file su clave privada RSA en PEM sin contraseña; compruebe que el servicio puede leer ambos archivos",
            ),
            (
                "The certificate or its private key cannot be read",
                "Point certificate_file at the PEM certificate uploaded to the app (-----BEGIN CERTIFICATE-----) and private_key_file at its RSA private key in PEM without a passphrase; check that the service may read both files",
            ),
        ),
        "o365.certificate-key-mismatch" => (
            (
                "La clave privada no corresponde al certificado",
                "Indique en private_key_file la clave que se creó junto con el certificado de certificate_file (openssl req -x509 -newkey ... -keyout)",
            ),
            (
                "The private key does not belong to the certificate",
                "Set private_key_file to the key made together with the certificate of certificate_file (openssl req -x509 -newkey ... -keyout)",
            ),
        ),
        "o365.certificate-expired" => (
            (
                "El certificado ha caducado",
                "Cree un certificado nuevo (openssl req -x509 -newkey rsa:2048 ...), súbalo en Entra ID > Registros de aplicaciones > la aplicación > Certificados y secretos > Certificados y cambie certificate_file y private_key_file a los archivos nuevos",
            ),
            (
                "The certificate has expired",
                "Make a new certificate (openssl req -x509 -newkey rsa:2048 ...), upload it in Entra ID > App registrations > the app > Certificates & secrets > Certificates, and point certificate_file and private_key_file at the new files",
            ),
        ),
        "o365.certificate-not-yet-valid" => (
            (
                "El certificado todavía no es válido",
                "Revise el reloj de este servidor, o cree un certificado válido desde hoy con openssl req -x509 y súbalo a la aplicación",
            ),
            (
                "The certificate is not valid yet",
                "Check this server's clock, or make a certificate valid from today with openssl req -x509 and upload it to the app",
            ),
        ),
        "o365.certificate-expiring" => (
            (
                "El certificado caduca pronto",
                "Antes de que caduque, cree un certificado nuevo, súbalo en Entra ID > Registros de aplicaciones > la aplicación > Certificados y secretos > Certificados y cambie certificate_file y private_key_file a los archivos nuevos",
            ),
            (
                "The certificate expires soon",
                "Before it expires, make a new certificate, upload it in Entra ID > App registrations > the app > Certificates & secrets > Certificates, and point certificate_file and private_key_file at the new files",
            ),
        ),
        "o365.secret-expired" => (
            (
                "El secreto de cliente ha caducado según secret_expires",
                "En Entra ID > Registros de aplicaciones > la aplicación > Certificados y secretos > Secretos de cliente, cree un secreto nuevo, pegue su Valor en el Token de la cuenta de correo y su fecha de caducidad en secret_expires",
            ),
            (
                "The client secret has expired according to secret_expires",
                "In Entra ID > App registrations > the app > Certificates & secrets > Client secrets, create a new secret, paste its Value into the account's secret (Token field in G360 ERP) and its expiry date into secret_expires",
            ),
        ),
        "o365.secret-expiring" => (
            (
                "El secreto de cliente caduca pronto",
                "Antes de que caduque, cree un secreto nuevo en Entra ID > Registros de aplicaciones > la aplicación > Certificados y secretos > Secretos de cliente, póngalo en secret_next (los dos funcionan durante el cambio) y después páselo a secret y actualice secret_expires",
            ),
            (
                "The client secret expires soon",
                "Before it expires, create a new secret in Entra ID > App registrations > the app > Certificates & secrets > Client secrets, put it in secret_next (both work during the rotation), then move it to secret and update secret_expires",
            ),
        ),
        "o365.secret-next-refused" => (
            (
                "El secreto nuevo (secret_next) fue rechazado; el correo sigue con el secreto anterior",
                "Revise secret_next: pegue el Valor (no el ID del secreto) del secreto nuevo de Entra ID > Registros de aplicaciones > la aplicación > Certificados y secretos > Secretos de cliente",
            ),
            (
                "The new secret (secret_next) was refused; mail goes on with the old secret",
                "Check secret_next: paste the Value (not the Secret ID) of the new secret from Entra ID > App registrations > the app > Certificates & secrets > Client secrets",
            ),
        ),
        "AADSTS700027" => (
            (
                "El certificado no se subió a la aplicación",
                "En Entra ID > Registros de aplicaciones > la aplicación > Certificados y secretos > Certificados, suba el certificado de certificate_file (el .crt, nunca la clave); su huella digital debe ser la que muestra verify",
            ),
            (
                "The certificate was not uploaded to the app",
                "In Entra ID > App registrations > the app > Certificates & secrets > Certificates, upload the certificate of certificate_file (the .crt, never the key); its thumbprint must be the one verify shows",
            ),
        ),
        "AADSTS700024" => (
            (
                "La aserción del cliente está fuera de su intervalo de validez: el reloj del servidor está mal",
                "Ponga en hora el reloj de este servidor (sincronícelo por NTP, con su zona horaria); Entra ID solo admite unos minutos de diferencia",
            ),
            (
                "The client assertion is outside its time range: the server's clock is wrong",
                "Set this server's clock right (synchronise it with NTP, time zone included); Entra ID accepts only a few minutes of skew",
            ),
        ),
        "o365.mailbox-missing" => (
            (
                "La cuenta no tiene dirección de buzón",
                "Ponga la dirección del buzón en address de la cuenta",
            ),
            (
                "The account has no mailbox address",
                "Put the mailbox address in the account's address",
            ),
        ),
        "o365.wrong-cloud" => (
            (
                "El inquilino está en otra nube nacional",
                "Ponga en cloud de la integración la nube del inquilino (global, usgov, usgov-dod o china)",
            ),
            (
                "The tenant lives in another national cloud",
                "Set the integration's cloud to the tenant's cloud (global, usgov, usgov-dod or china)",
            ),
        ),
        "o365.discovery-unavailable" => (
            (
                "El servicio de descubrimiento del inquilino no está disponible",
                "Inténtelo de nuevo en unos minutos",
            ),
            ("The tenant discovery endpoint is unavailable", "Try again in a few minutes"),
        ),
        "AADSTS90002" => (
            (
                "No se encontró el inquilino",
                "Revise tenant_id de la integración (Entra ID > Información general > ID de inquilino) y su nube; un inquilino de una nube nacional necesita cloud = usgov, usgov-dod o china",
            ),
            (
                "The tenant was not found",
                "Check the integration's tenant_id (Entra ID > Overview > Tenant ID) and its cloud; a tenant in a national cloud needs cloud = usgov, usgov-dod or china",
            ),
        ),
        "AADSTS900023" => (
            (
                "El identificador de inquilino no es válido",
                "Escriba tenant_id como el GUID del Id. de directorio (inquilino) o un dominio verificado, sin espacios ni rutas",
            ),
            (
                "The tenant identifier is not valid",
                "Write the integration's tenant_id as the Directory (tenant) ID GUID or a verified domain, without spaces or paths",
            ),
        ),
        "AADSTS700016" => (
            (
                "No se encontró la aplicación en el directorio",
                "Revise client_id (ID de aplicación) y tenant_id (ID de directorio) de la integración y su nube; una aplicación registrada en otro inquilino necesita consentimiento de administrador en este",
            ),
            (
                "The application was not found in the directory",
                "Check the integration's client_id (Application (client) ID) and tenant_id (Directory (tenant) ID) and the cloud; an app registered in another tenant needs admin consent in this one",
            ),
        ),
        "AADSTS7000215" => (
            (
                "El secreto de cliente no es válido",
                "En Entra ID > Registros de aplicaciones > la aplicación > Certificados y secretos, cree un secreto de cliente nuevo y pegue su Valor (no el ID del secreto) en el Token de la cuenta de correo",
            ),
            (
                "The client secret is invalid",
                "In Entra ID > App registrations > the app > Certificates & secrets, create a new client secret and paste its Value (not the Secret ID) into the account's secret (Token field in G360 ERP)",
            ),
        ),
        "AADSTS7000222" => (
            (
                "El secreto de cliente ha caducado",
                "En Entra ID > Registros de aplicaciones > la aplicación > Certificados y secretos, cree un secreto de cliente nuevo y pegue su Valor en el Token de la cuenta de correo; anote su fecha de caducidad",
            ),
            (
                "The client secret has expired",
                "In Entra ID > App registrations > the app > Certificates & secrets, create a new client secret and paste its Value into the account's secret (Token field in G360 ERP); note its expiry date",
            ),
        ),
        "AADSTS7000218" => (
            (
                "Falta el secreto de cliente",
                "Pegue el Valor del secreto de cliente (Entra ID > Certificados y secretos) en el Token de la cuenta de correo",
            ),
            (
                "The client secret is missing",
                "Paste the client secret Value from Entra ID > Certificates & secrets into the account's secret (Token field in G360 ERP)",
            ),
        ),
        "AADSTS53003" => (
            (
                "Una directiva de acceso condicional bloqueó la petición del token",
                "Pida al administrador de Entra ID que permita la dirección IP de este servidor en la directiva de acceso condicional para identidades de carga de trabajo que afecta a la aplicación",
            ),
            (
                "A Conditional Access policy blocked the token request",
                "Ask the Entra ID administrator to allow this server's IP address in the Conditional Access policy for workload identities that applies to the app",
            ),
        ),
        "AADSTS7000112" => (
            (
                "La aplicación está deshabilitada",
                "Pida al administrador de Entra ID que habilite la aplicación en Entra ID > Aplicaciones empresariales > la aplicación > Propiedades",
            ),
            (
                "The application is disabled",
                "Ask the Entra ID administrator to enable the app in Entra ID > Enterprise applications > the app > Properties",
            ),
        ),
        "AADSTS90038" => (
            (
                "El inquilino está en otra nube nacional",
                "Ponga en cloud de la integración la nube del inquilino (global, usgov, usgov-dod o china)",
            ),
            (
                "The tenant lives in another national cloud",
                "Set the integration's cloud to the tenant's cloud (global, usgov, usgov-dod or china)",
            ),
        ),
        "AADSTS900432" => (
            (
                "El inquilino está en otra nube nacional",
                "Ponga en cloud de la integración la nube del inquilino (global, usgov, usgov-dod o china)",
            ),
            (
                "The tenant lives in another national cloud",
                "Set the integration's cloud to the tenant's cloud (global, usgov, usgov-dod or china)",
            ),
        ),
        "AADSTS50194" => (
            (
                "Hay que indicar el inquilino explícitamente",
                "Ponga en tenant_id el Id. de directorio (inquilino) del cliente en lugar de common u organizations",
            ),
            (
                "The tenant must be given explicitly",
                "Set the integration's tenant_id to the customer's Directory (tenant) ID instead of common or organizations",
            ),
        ),
        "AADSTS9001023" => (
            (
                "Hay que indicar el inquilino explícitamente",
                "Ponga en tenant_id el Id. de directorio (inquilino) del cliente en lugar de common u organizations",
            ),
            (
                "The tenant must be given explicitly",
                "Set the integration's tenant_id to the customer's Directory (tenant) ID instead of common or organizations",
            ),
        ),
        "AADSTS1002012" => (
            (
                "El ámbito del token no es válido para esta nube",
                "Revise cloud de la integración y quite un graph_url incorrecto",
            ),
            (
                "The token scope is not valid for this cloud",
                "Check the integration's cloud and remove a wrong graph_url override",
            ),
        ),
        "AADSTS500011" => (
            (
                "Microsoft Graph no es un recurso conocido en este inquilino o nube",
                "Revise cloud de la integración y quite un graph_url incorrecto",
            ),
            (
                "Microsoft Graph is not known as a resource in this tenant or cloud",
                "Check the integration's cloud and remove a wrong graph_url override",
            ),
        ),
        "AADSTS50196" => (
            (
                "El servicio de tokens nos está limitando",
                "Espere unos minutos; si persiste, compruebe que ningún otro proceso pide tokens en bucle",
            ),
            (
                "The token endpoint throttled us",
                "Wait a few minutes; if it persists, check that no other process asks for tokens in a loop",
            ),
        ),
        "AADSTS90055" => (
            (
                "El servicio de tokens nos está limitando",
                "Espere unos minutos; si persiste, compruebe que ningún otro proceso pide tokens en bucle",
            ),
            (
                "The token endpoint throttled us",
                "Wait a few minutes; if it persists, check that no other process asks for tokens in a loop",
            ),
        ),
        "o365.no-roles" => (
            (
                "El token no lleva permisos de aplicación: Mail.Send y Mail.Read se añadieron como permisos delegados o no se concedió el consentimiento de administrador",
                "En Entra ID > Registros de aplicaciones > la aplicación > Permisos de API, añada Microsoft Graph > Permisos de la aplicación > Mail.Send y Mail.Read y pulse Conceder consentimiento de administrador (Tipo: Aplicación, Estado: Concedido)",
            ),
            (
                "The token carries no application roles: Mail.Send and Mail.Read were added as Delegated permissions, or admin consent was not granted",
                "In Entra ID > App registrations > the app > API permissions, add Microsoft Graph > Application permissions > Mail.Send and Mail.Read, then press Grant admin consent (Type: Application, Status: Granted)",
            ),
        ),
        "o365.missing-role" => (
            (
                "Al token le falta un permiso de aplicación (Mail.Send o Mail.Read)",
                "En Entra ID > Registros de aplicaciones > la aplicación > Permisos de API, añada el permiso que falta como Permiso de la aplicación y pulse Conceder consentimiento de administrador",
            ),
            (
                "The token lacks an application role (Mail.Send or Mail.Read)",
                "In Entra ID > App registrations > the app > API permissions, add the missing permission as an Application permission and press Grant admin consent",
            ),
        ),
        "o365.token-opaque" => (
            (
                "No se puede leer el token de acceso, así que se desconocen sus permisos",
                "Nada que hacer si la comprobación del buzón es correcta; si no, revise Mail.Send y Mail.Read en Entra ID > Permisos de API",
            ),
            (
                "The access token cannot be read, so its roles are unknown",
                "Nothing to do if the mailbox check passes; otherwise check Mail.Send and Mail.Read in Entra ID > API permissions",
            ),
        ),
        "NoPermissionsInAccessToken" => (
            (
                "El token de acceso no lleva permisos",
                "En Entra ID > Permisos de API, añada Mail.Send y Mail.Read de Microsoft Graph como Permisos de la aplicación (no delegados) y pulse Conceder consentimiento de administrador",
            ),
            (
                "The access token carries no permissions",
                "In Entra ID > API permissions, add Microsoft Graph Mail.Send and Mail.Read as Application permissions (not Delegated) and press Grant admin consent",
            ),
        ),
        "ErrorAccessDenied" => (
            (
                "Se denegó el acceso al buzón",
                "Compruebe en Entra ID > Permisos de API que Mail.Send y Mail.Read son permisos de aplicación con consentimiento concedido; si RBAC para aplicaciones de Exchange o una directiva de acceso limita la aplicación, pida al administrador de Exchange que incluya este buzón",
            ),
            (
                "Access to the mailbox was denied",
                "In Entra ID > API permissions, check Mail.Send and Mail.Read are Application permissions with admin consent granted; if Exchange RBAC for Applications or an access policy scopes the app, ask the Exchange administrator to include this mailbox",
            ),
        ),
        "o365.mailbox-not-in-app-scope" => (
            (
                "El buzón está fuera de la directiva de acceso de la aplicación",
                "Pida al administrador de Exchange que añada este buzón al grupo de seguridad de la directiva de acceso de la aplicación (New-ApplicationAccessPolicy / Test-ApplicationAccessPolicy) y espere hasta una hora",
            ),
            (
                "The mailbox is outside the app's Application Access Policy",
                "Ask the Exchange administrator to add this mailbox to the mail-enabled security group of the app's Application Access Policy (New-ApplicationAccessPolicy / Test-ApplicationAccessPolicy), then allow up to an hour",
            ),
        ),
        "ErrorInvalidUser" => (
            (
                "La dirección no corresponde a ningún buzón de este inquilino",
                "Ponga en address de la cuenta el nombre principal de usuario (UPN) o la dirección principal del buzón, y revise tenant_id de la integración",
            ),
            (
                "The mailbox address does not resolve to a mailbox in this tenant",
                "Put the mailbox's user principal name (UPN) or primary address in the account's address, and check the integration's tenant_id",
            ),
        ),
        "MailboxNotEnabledForRESTAPI" => (
            (
                "El buzón no está habilitado para la API REST (sin licencia, local o invitado)",
                "La dirección debe ser un buzón de Exchange Online: pida al administrador de Microsoft 365 que asigne una licencia con Exchange Online (no sirven invitados ni buzones locales)",
            ),
            (
                "The mailbox is not enabled for the REST API (unlicensed, on-premises or guest)",
                "The address must be an Exchange Online mailbox: ask the Microsoft 365 administrator to assign a licence with Exchange Online (guests and on-premises mailboxes cannot be used)",
            ),
        ),
        "InvalidAuthenticationToken" => (
            (
                "Graph rechazó el token de acceso",
                "Revise cloud y graph_url de la integración; si persiste, cree un secreto de cliente nuevo",
            ),
            (
                "Graph refused the access token",
                "Check the integration's cloud and graph_url; if it persists, create a new client secret",
            ),
        ),
        "ErrorSendAsDenied" => (
            (
                "El buzón no puede enviar como el remitente indicado",
                "Envíe desde la dirección de la propia cuenta, o pida al administrador de Exchange que conceda Enviar como sobre ese remitente a este buzón",
            ),
            (
                "The mailbox may not send as the given sender",
                "Send from the account's own address, or ask the Exchange administrator to grant Send As on the sender to this mailbox",
            ),
        ),
        "ErrorInvalidRecipients" => (
            ("Graph rechazó un destinatario", "Revise las direcciones de los destinatarios"),
            ("Graph refused a recipient", "Check the recipients' addresses"),
        ),
        "ErrorMessageSizeExceeded" => (
            (
                "El mensaje supera el tamaño máximo de envío del buzón",
                "Envíe menos adjuntos o más pequeños, o pida al administrador de Exchange que suba el MaxSendSize del buzón",
            ),
            (
                "The message exceeds the mailbox's maximum send size",
                "Send fewer or smaller attachments, or ask the Exchange administrator to raise the mailbox's MaxSendSize",
            ),
        ),
        "ErrorQuotaExceeded" => (
            (
                "El buzón está lleno",
                "Libere espacio en el buzón (vacíe Elementos eliminados o Elementos enviados) o pida más cuota",
            ),
            (
                "The mailbox is full",
                "Free space in the mailbox (empty Deleted Items or Sent Items) or ask for a larger quota",
            ),
        ),
        "InvalidInternetMessageHeader" => (
            (
                "Graph rechazó una cabecera personalizada",
                "Use solo cabeceras personalizadas cuyo nombre empiece por X-",
            ),
            ("Graph refused a custom header", "Use only custom headers whose names start with X-"),
        ),
        "o365.message-too-large" => (
            (
                "La petición supera el tamaño que acepta Graph (4 MB)",
                "Envíe adjuntos de menos de 3 MB en total, o conceda a la aplicación Mail.ReadWrite (aplicación) para subir adjuntos grandes",
            ),
            (
                "The request is larger than Graph accepts (4 MB)",
                "Send attachments of less than 3 MB in total, or grant the app Mail.ReadWrite (Application) so large attachments can be uploaded",
            ),
        ),
        "o365.outcome-unknown" => (
            (
                "No se sabe si el correo se envió",
                "Busque el correo en Elementos enviados del buzón antes de volver a enviarlo",
            ),
            (
                "The mail may or may not have been sent",
                "Look for the mail in the Sent Items of the mailbox before sending it again",
            ),
        ),
        "o365.outcome-unknown-no-read" => (
            (
                "No se sabe si el correo se envió",
                "Busque el correo en Elementos enviados del buzón antes de volver a enviarlo; conceda Mail.Read (aplicación) de Microsoft Graph para que el proveedor lo compruebe por sí mismo",
            ),
            (
                "The mail may or may not have been sent",
                "Look for the mail in the Sent Items of the mailbox before sending it again; grant Microsoft Graph Mail.Read (Application) so the provider can check by itself",
            ),
        ),
        "o365.accepted-with-retry-after" => (
            (
                "Graph aceptó el correo pero pidió reintentar más tarde",
                "Inténtelo más tarde; el correo no se reenviará si ya está en Elementos enviados",
            ),
            (
                "Graph accepted the mail but asked to retry later",
                "Try again later; the mail is not sent again if it is already in Sent Items",
            ),
        ),
        "o365.test-mail-not-in-sent" => (
            (
                "El correo de prueba se envió pero no aparece en Elementos enviados",
                "Compruebe que el correo llegó y que Elementos enviados guarda una copia; busque un informe de no entrega en la Bandeja de entrada del buzón",
            ),
            (
                "The test mail was sent but not found in Sent Items",
                "Check that the mail arrived and that Sent Items keeps a copy; look for a non-delivery report in the mailbox's Inbox",
            ),
        ),
        "o365.sent-lookup-failed" => (
            (
                "No se pudo buscar en Elementos enviados",
                "Conceda Mail.Read (aplicación) para evitar envíos duplicados tras respuestas ambiguas",
            ),
            (
                "Sent Items could not be searched",
                "Grant Mail.Read (Application) so duplicate sends can be prevented after ambiguous answers",
            ),
        ),
        "o365.timeout" => (
            (
                "La petición a Microsoft tardó demasiado",
                "Revise el camino de red hacia Microsoft (proxy, cortafuegos, DNS) e inténtelo de nuevo",
            ),
            (
                "The request to Microsoft timed out",
                "Check the network path to Microsoft (proxy, firewall, DNS) and try again",
            ),
        ),
        "o365.network" => (
            (
                "No se pudo conectar con Microsoft",
                "Revise el camino de red hacia Microsoft (proxy, cortafuegos, DNS; tras un proxy que inspecciona TLS, indique su CA en tls_ca_file) e inténtelo de nuevo",
            ),
            (
                "Cannot connect to Microsoft",
                "Check the network path to Microsoft (proxy, firewall, DNS; behind a proxy that inspects TLS, name its CA in tls_ca_file) and try again",
            ),
        ),
        "o365.deadline" => (
            (
                "Se agotó el plazo del envío antes de poder hacer la petición; el correo no se envió",
                "Inténtelo más tarde; si se repite, aumente send_timeout_ms o revise el camino de red hacia Microsoft",
            ),
            (
                "The send's deadline passed before the request could be made; the mail was not sent",
                "Try again later; if it keeps happening, raise send_timeout_ms or check the network path to Microsoft",
            ),
        ),
        "o365.redirect" => (
            (
                "El servidor respondió con una redirección, que no se sigue",
                "Revise authority_url y graph_url: deben nombrar los propios servidores de Microsoft; un proxy o portal cautivo que redirige debe dejar pasar las peticiones",
            ),
            (
                "The server answered with a redirect, which is not followed",
                "Check authority_url and graph_url: they must name the Microsoft hosts themselves; a proxy or captive portal that redirects must let the requests through",
            ),
        ),
        "o365.answer-too-large" => (
            (
                "La respuesta del servidor supera el tamaño máximo",
                "Revise authority_url y graph_url: un servidor de Microsoft nunca responde tanto; al leer con cuerpos, pida páginas más pequeñas",
            ),
            (
                "The server's answer is larger than the limit",
                "Check authority_url and graph_url: a Microsoft host never answers this much; when reading with bodies, ask for smaller pages",
            ),
        ),
        "ApplicationThrottled" => (
            (
                "Graph está limitando el buzón",
                "Espere y vuelva a intentarlo; reduzca el ritmo de envío de este buzón",
            ),
            (
                "Graph throttled the mailbox",
                "Wait and try again; lower the sending rate of this mailbox",
            ),
        ),
        "o365.invalid-id" => (
            ("Id de mensaje no válido", "Use el id exactamente como lo devolvió el listado"),
            ("Invalid message id", "Pass an id exactly as a listing returned it"),
        ),
        "ErrorItemNotFound" => (
            (
                "No se encontró el mensaje o la carpeta",
                "Use un id que devuelva el listado actual (inbox)",
            ),
            (
                "The message or folder was not found",
                "Use an id the current listing (inbox) returns",
            ),
        ),
        // ----- cli: a configuration that cannot be read, usage errors (issue 12.1) -----
        "config.missing" => (
            (
                "No existe el fichero de configuración",
                "Indique la ruta de un fichero que exista con --config o G360_MAIL_CONFIG, o quítelas para usar ./g360-mail.toml o la configuración incluida",
            ),
            (
                "The configuration file does not exist",
                "Name an existing file with --config or G360_MAIL_CONFIG, or drop them to use ./g360-mail.toml or the embedded default",
            ),
        ),
        "config.unreadable" => (
            (
                "No se puede leer la configuración",
                "Corrija el fichero en la línea y columna indicadas (sintaxis TOML) y compruebe que este usuario puede leerlo",
            ),
            (
                "Cannot read the configuration",
                "Fix the file at the line and column shown (TOML syntax) and check that this user may read it",
            ),
        ),
        "usage.invalid" => (
            (
                "La orden no está bien escrita",
                "Corrija los argumentos según `g360-mail --help` (o `g360-mail COMANDO --help`); no se ha hecho nada",
            ),
            (
                "The command line is not valid",
                "Fix the arguments as `g360-mail --help` (or `g360-mail COMMAND --help`) shows; nothing was done",
            ),
        ),
        "config.unknown-key" => (
            (
                "Clave desconocida",
                "Revise la ortografía; las claves válidas se listan en el README y en docs/",
            ),
            (
                "Unknown key",
                "Check the spelling; the valid keys are listed in the README and docs/",
            ),
        ),
        "config.invalid-value" => (
            ("Valor no válido", "Corrija el valor según el tipo que se indica"),
            ("Invalid value", "Fix the value to the type shown"),
        ),
        "config.duplicate" => (
            (
                "Identificador repetido",
                "Dé a cada integración su propio id y a cada usuario una sola cuenta",
            ),
            ("Duplicate identifier", "Give each integration its own id, and each user one account"),
        ),
        "config.secret-missing" => (
            (
                "Falta el secreto",
                "Ponga el secreto en secret (para Office 365 el VALOR del secreto de cliente; para SMTP la contraseña) o indique secret_env",
            ),
            (
                "The secret is missing",
                "Set secret (for Office 365 the client secret VALUE, for SMTP the password) or secret_env",
            ),
        ),
        "config.secret-env-missing" => (
            (
                "La variable de entorno del secreto no está definida",
                "Exporte la variable con el valor del secreto antes de arrancar, o use secret",
            ),
            (
                "The secret's environment variable is not set",
                "Export the variable with the secret's value before starting, or use secret",
            ),
        ),
        "config.no-integration" => (
            (
                "No hay ninguna integración de ese tipo de proveedor",
                "Añada una entrada [[integrations]] con ese provider",
            ),
            (
                "No integration of that provider type is configured",
                "Add an [[integrations]] entry with that provider",
            ),
        ),
        "config.ambiguous-integration" => (
            (
                "Hay varias integraciones de ese tipo de proveedor",
                "Indique en integration el id de la que usa esta cuenta",
            ),
            (
                "Several integrations have that provider type",
                "Set integration to the id of the one this account uses",
            ),
        ),
        // ----- erp-bridge: changes at run time, one secret per integration (issues 12.3, 13.2) -----
        "bridge.account-removed" => (
            (
                "La cuenta de correo de ese usuario se ha quitado de la configuración",
                "Vuelva a dar de alta la cuenta de correo del usuario o envíe como otro usuario; los e-mails ya encolados para él siguen en la cola",
            ),
            (
                "The mail account of that user was removed from the configuration",
                "Add the user's mail account again, or send as another user; mail already queued for this user stays queued",
            ),
        ),
        "config.secret-repeated" => (
            (
                "Varias cuentas de la integración repiten el mismo secreto",
                "Ponga secret (o secret_env) una sola vez en la integración y quítelo de esas cuentas; el secreto propio de una cuenta sigue teniendo prioridad",
            ),
            (
                "Several accounts of the integration repeat the same secret",
                "Set secret (or secret_env) once on the integration and remove it from those accounts; an account's own secret still wins",
            ),
        ),
        // ----- erp-bridge: certificate PEM texts from the ERP or the environment (issue 13.1) -----
        "config.certificate-unsupported" => (
            (
                "Las integraciones de este tipo no usan certificado",
                "Quite el certificado y su clave privada de esta integración (certificate_env, private_key_env)",
            ),
            (
                "Integrations of this type take no certificate",
                "Remove the certificate and its private key from this integration (certificate_env, private_key_env)",
            ),
        ),
        // ----- cli: `send --from-csv` files and header (issue 10.5) -----
        "csv.path-refused" => (
            (
                "El fichero está fuera de la carpeta del CSV, o no es un fichero normal",
                "Nombre los ficheros con rutas relativas a la carpeta del CSV (o a --attach-root), sin .. ni enlaces que salgan de ella; no se ha enviado nada",
            ),
            (
                "The file lies outside the CSV's folder, or is not a regular file",
                "Name files by paths relative to the CSV's folder (or to --attach-root), without .. or links that lead outside it; nothing was sent",
            ),
        ),
        "csv.attach-root" => (
            (
                "No se puede usar la carpeta de los adjuntos",
                "Indique en --attach-root una carpeta que exista y se pueda leer",
            ),
            (
                "The folder of the attachments cannot be used",
                "Give --attach-root a folder that exists and can be read",
            ),
        ),
        "csv.unknown-column" => (
            (
                "La cabecera del CSV tiene columnas desconocidas",
                "La primera línea nombra las columnas: to, cc, bcc, subject, body, html_file, attach",
            ),
            (
                "The CSV header has unknown columns",
                "The first line names the columns: to, cc, bcc, subject, body, html_file, attach",
            ),
        ),
        "csv.wrong-delimiter" => (
            (
                "La cabecera del CSV parece usar otro separador",
                "Indique el separador con --delimiter (por ejemplo --delimiter ';' para los CSV de Excel en español)",
            ),
            (
                "The CSV header seems to use another separator",
                "Give the separator with --delimiter (e.g. --delimiter ';' for CSV files of a Spanish Excel)",
            ),
        ),
        "csv.no-header" => (
            (
                "La primera línea del CSV parece un dato, no una cabecera",
                "Añada arriba una línea con los nombres de las columnas: to, cc, bcc, subject, body, html_file, attach",
            ),
            (
                "The CSV's first line looks like data, not a header",
                "Add a line above it naming the columns: to, cc, bcc, subject, body, html_file, attach",
            ),
        ),
        "csv.spanish-columns" => (
            (
                "Las columnas del CSV tienen nombres en español",
                "Cambie el nombre de las columnas como se indica en «rename» (la cabecera usa los nombres en inglés: to, cc, bcc, subject, body, html_file, attach)",
            ),
            (
                "The CSV's columns have Spanish names",
                "Rename the columns as shown under \"rename\" (the header uses the English names: to, cc, bcc, subject, body, html_file, attach)",
            ),
        ),
        // ----- end of cli: CSV -----
        // ----- cli: the outbox's errors (issue 10.11) -----
        "outbox.open" => (
            (
                "No se puede abrir la base de datos de la bandeja de salida",
                "Revise url en [outbox]: para SQLite, que la carpeta del fichero exista y se pueda escribir (sqlite:///ruta/outbox.db); para PostgreSQL, que el servidor esté accesible y el usuario pueda conectarse",
            ),
            (
                "Cannot open the outbox database",
                "Check url in [outbox]: for SQLite, that the file's folder exists and is writable (sqlite:///path/outbox.db); for PostgreSQL, that the server is reachable and the user may connect",
            ),
        ),
        "outbox.url" => (
            (
                "La URL de la base de datos de la bandeja de salida no es válida",
                "Use sqlite:///ruta/outbox.db o postgres://usuario@servidor:5432/basededatos en url de [outbox]",
            ),
            (
                "The outbox database URL is not supported",
                "Use sqlite:///path/outbox.db or postgres://user@host:5432/database as url in [outbox]",
            ),
        ),
        "outbox.migrate" => (
            (
                "La base de datos tiene un esquema de bandeja de salida que esta versión no conoce",
                "Use la versión de g360-mail que creó la base de datos, o una más reciente",
            ),
            (
                "The database holds an outbox schema this version does not know",
                "Use the g360-mail version that created the database, or a newer one",
            ),
        ),
        "outbox.database" => (
            (
                "Falló la base de datos de la bandeja de salida",
                "Revise el servidor de base de datos y su registro; inténtelo de nuevo",
            ),
            ("The outbox database failed", "Check the database server and its log; try again"),
        ),
        "outbox.not-found" => (
            (
                "No hay ningún correo con ese id en la bandeja de salida",
                "Use un id que muestre `g360-mail outbox list`",
            ),
            ("No mail in the outbox has that id", "Use an id `g360-mail outbox list` shows"),
        ),
        "outbox.not-failed" => (
            (
                "Solo se pueden reintentar los correos fallidos",
                "Compruebe el estado con `g360-mail outbox show ID`",
            ),
            ("Only failed mails can be retried", "Check its state with `g360-mail outbox show ID`"),
        ),
        // ----- end of cli: the outbox's errors -----
        _ => return bounce_error_text(code, lang),
    };
    Some(match lang {
        Lang::Es => es,
        Lang::En => en,
    })
}

// --- `g360-mail bounces`: delivery reports -----------------------------------

/// A recipient's delivery state as a delivery report left it (the outbox's
/// `DeliveryState`, mirrored here so the texts need no database crate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecipientState {
    /// A permanent failure: the mail will not reach the recipient.
    Bounced,
    /// The receiving server keeps trying.
    Delayed,
    /// A report says it was delivered or relayed.
    Delivered,
    /// A state this catalogue does not know yet.
    Other,
}

/// A text of `g360-mail bounces`.
#[allow(missing_docs, reason = "each variant's text is its documentation")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BounceMsg {
    OriginalMessageId,
    OriginalSubject,
    Unknown,
    Diagnostic,
    RemoteMta,
    Action(g360_mail_bounce::Action),
    Kind(g360_mail_bounce::BounceKind),
    State(RecipientState),
    ReportsRead,
    SetAside,
    UnknownMail,
    Unmatched,
    NoReports,
    NoMailboxes,
    NotOurs,
    Recipients,
    Busy,
}

impl BounceMsg {
    /// The text in `lang`.
    pub fn text(self, lang: Lang) -> &'static str {
        use Lang::{En, Es};
        use RecipientState as S;
        use g360_mail_bounce::{Action as A, BounceKind as K};
        match (self, lang) {
            (BounceMsg::OriginalMessageId, Es) => "Message-ID original",
            (BounceMsg::OriginalMessageId, En) => "Original Message-ID",
            (BounceMsg::OriginalSubject, Es) => "Asunto original",
            (BounceMsg::OriginalSubject, En) => "Original subject",
            (BounceMsg::Unknown, Es) => "(desconocido)",
            (BounceMsg::Unknown, En) => "(unknown)",
            (BounceMsg::Diagnostic, Es) => "diagnóstico",
            (BounceMsg::Diagnostic, En) => "diagnostic",
            (BounceMsg::RemoteMta, Es) => "servidor remoto",
            (BounceMsg::RemoteMta, En) => "remote server",
            (BounceMsg::Action(A::Failed), Es) => "fallido",
            (BounceMsg::Action(A::Failed), En) => "failed",
            (BounceMsg::Action(A::Delayed), Es) => "retrasado",
            (BounceMsg::Action(A::Delayed), En) => "delayed",
            (BounceMsg::Action(A::Delivered), Es) => "entregado",
            (BounceMsg::Action(A::Delivered), En) => "delivered",
            (BounceMsg::Action(A::Relayed), Es) => "retransmitido",
            (BounceMsg::Action(A::Relayed), En) => "relayed",
            (BounceMsg::Action(A::Expanded), Es) => "expandido",
            (BounceMsg::Action(A::Expanded), En) => "expanded",
            (BounceMsg::Kind(K::UnknownRecipient), Es) => "destinatario desconocido",
            (BounceMsg::Kind(K::UnknownRecipient), En) => "unknown recipient",
            (BounceMsg::Kind(K::MailboxFull), Es) => "buzón lleno",
            (BounceMsg::Kind(K::MailboxFull), En) => "mailbox full",
            (BounceMsg::Kind(K::Rejected), Es) => "rechazado como spam o por política",
            (BounceMsg::Kind(K::Rejected), En) => "rejected as spam or by policy",
            (BounceMsg::Kind(K::TooLarge), Es) => "demasiado grande",
            (BounceMsg::Kind(K::TooLarge), En) => "too large",
            (BounceMsg::Kind(K::Delayed), Es) => "entrega retrasada",
            (BounceMsg::Kind(K::Delayed), En) => "delivery delayed",
            (BounceMsg::Kind(K::Other), Es) => "otro motivo",
            (BounceMsg::Kind(K::Other), En) => "other reason",
            // `BounceKind` is non-exhaustive: a kind added later reads as "other".
            (BounceMsg::Kind(_), Es) => "otro motivo",
            (BounceMsg::Kind(_), En) => "other reason",
            (BounceMsg::State(S::Bounced), Es) => "rebotado",
            (BounceMsg::State(S::Bounced), En) => "bounced",
            (BounceMsg::State(S::Delayed), Es) => "retrasado",
            (BounceMsg::State(S::Delayed), En) => "delayed",
            (BounceMsg::State(S::Delivered), Es) => "entregado",
            (BounceMsg::State(S::Delivered), En) => "delivered",
            (BounceMsg::State(S::Other), Es) => "otro estado",
            (BounceMsg::State(S::Other), En) => "other state",
            (BounceMsg::ReportsRead, Es) => "informes leídos",
            (BounceMsg::ReportsRead, En) => "reports read",
            (BounceMsg::SetAside, Es) => "ilegibles (apartados)",
            (BounceMsg::SetAside, En) => "unreadable (set aside)",
            (BounceMsg::UnknownMail, Es) => "de correo no enviado por g360-mail",
            (BounceMsg::UnknownMail, En) => "about mail g360-mail did not send",
            (BounceMsg::Unmatched, Es) => "direcciones que no son destinatarios del correo",
            (BounceMsg::Unmatched, En) => "addresses that are none of the mail's recipients",
            (BounceMsg::NoReports, Es) => "No hay informes de entrega en ese periodo",
            (BounceMsg::NoReports, En) => "No delivery reports in that period",
            (BounceMsg::NoMailboxes, Es) => "Ninguna cuenta puede leer informes de entrega",
            (BounceMsg::NoMailboxes, En) => "No account can read delivery reports",
            (BounceMsg::NotOurs, Es) => "(no enviado por g360-mail)",
            (BounceMsg::NotOurs, En) => "(not sent by g360-mail)",
            (BounceMsg::Recipients, Es) => "Destinatarios",
            (BounceMsg::Recipients, En) => "Recipients",
            (BounceMsg::Busy, Es) => {
                "otro proceso está leyendo sus informes; la próxima sincronización leerá los nuevos"
            }
            (BounceMsg::Busy, En) => {
                "another process is reading its reports; the next sync reads the new ones"
            }
        }
    }
}

/// The translated message and remedy of the `bounce.*` codes.
fn bounce_error_text(code: &str, lang: Lang) -> Option<(&'static str, &'static str)> {
    let (es, en) = match code {
        g360_mail_bounce::NOT_A_REPORT => (
            (
                "No es un informe de entrega",
                "Indique un informe de entrega (rebote, NDR) como fichero .eml completo",
            ),
            (
                "Not a delivery report",
                "Give a delivery report (bounce, NDR) as a complete .eml file",
            ),
        ),
        "bounce.unreadable" => (
            ("No se puede leer el fichero", "Compruebe la ruta y los permisos del fichero"),
            ("Cannot read the file", "Check the file's path and permissions"),
        ),
        "bounces.unsupported" => (
            (
                "La ruta de la cuenta no puede leer informes de entrega",
                "Lea los informes con una ruta office365 o file; una ruta smtp solo envía",
            ),
            (
                "The account's route cannot read delivery reports",
                "Read reports through an office365 or file route; an smtp route only sends",
            ),
        ),
        _ => return None,
    };
    Some(match lang {
        Lang::Es => es,
        Lang::En => en,
    })
}

#[cfg(test)]
mod bounce_tests {
    use super::*;

    #[test]
    fn bounce_codes_and_kinds_have_both_languages() {
        for code in [g360_mail_bounce::NOT_A_REPORT, "bounce.unreadable", "bounces.unsupported"] {
            let es = error_text(code, Lang::Es).unwrap();
            let en = error_text(code, Lang::En).unwrap();
            assert_ne!(es, en, "{code}");
        }
        use g360_mail_bounce::BounceKind as K;
        for kind in [K::UnknownRecipient, K::MailboxFull, K::Rejected, K::TooLarge, K::Delayed] {
            let (es, en) =
                (BounceMsg::Kind(kind).text(Lang::Es), BounceMsg::Kind(kind).text(Lang::En));
            assert_ne!(es, en, "{kind}");
            assert_ne!(es, BounceMsg::Kind(K::Other).text(Lang::Es), "{kind}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The renewal remedy of a certificate names the source in use, in
    /// both languages; other codes and keys keep the table's text.
    #[test]
    fn certificate_remedies_name_their_source() {
        for code in ["o365.certificate-expired", "o365.certificate-expiring"] {
            for lang in [Lang::Es, Lang::En] {
                let remedy = |key| error_text_at(code, key, lang).unwrap().1;
                assert_eq!(remedy(None), error_text(code, lang).unwrap().1);
                assert!(remedy(Some("certificate_file")).contains("certificate_file"));
                let env = remedy(Some("certificate_env"));
                assert!(
                    env.contains("certificate_env") && env.contains("private_key_env"),
                    "{env}"
                );
                let given = remedy(Some("certificate"));
                assert!(given.contains("ERP"), "{given}");
                for text in [env, given] {
                    assert!(!text.contains("certificate_file"), "{code} {lang:?}: {text}");
                }
            }
        }
        assert_eq!(
            error_text_at("o365.secret-expired", Some("certificate_env"), Lang::Es),
            error_text("o365.secret-expired", Lang::Es)
        );
        let err = g360_mail_core::Error::new(g360_mail_core::ErrorKind::Auth, "expired")
            .with_code("o365.certificate-expired")
            .with_context("key", "certificate_env");
        let (_, remedy) = localized(&err, Lang::Es);
        assert!(remedy.unwrap().contains("variables de entorno"));
    }

    /// The codes of the table's match arms, read from this file.
    fn table_codes() -> Vec<&'static str> {
        let source = include_str!("lib.rs");
        let start = source.find("fn error_text").unwrap();
        let body = &source[start..];
        let body = &body[..body.find("_ => return None").unwrap()];
        body.lines()
            .filter_map(|l| l.trim().split_once("=>").map(|(arm, _)| arm.trim()))
            .filter(|arm| arm.starts_with('"'))
            .flat_map(|arm| arm.split('|').map(|c| c.trim().trim_matches('"')))
            .collect()
    }

    #[test]
    fn every_code_of_the_table_has_a_spanish_and_an_english_text() {
        let codes = table_codes();
        assert!(codes.len() > 100, "the table was not read: {codes:?}");
        for code in codes {
            let es = error_text(code, Lang::Es).unwrap_or_else(|| panic!("{code}: no text"));
            let en = error_text(code, Lang::En).unwrap();
            for text in [es.0, es.1, en.0, en.1] {
                assert!(!text.trim().is_empty(), "{code}: an empty text");
            }
            assert_ne!(es.0, en.0, "{code}: the Spanish message is the English one");
            assert_ne!(es.1, en.1, "{code}: the Spanish remedy is the English one");
        }
        assert_eq!(error_text("nope", Lang::Es), None);
    }
}

#[cfg(test)]
mod catalogue_tests {
    use super::*;
    use g360_mail_core::{Check, Error, ErrorKind};

    #[test]
    fn counts_are_singular_for_one_only() {
        assert_eq!(count(1, Noun::Integration, Lang::Es), "1 integración");
        assert_eq!(count(0, Noun::Integration, Lang::Es), "0 integraciones");
        assert_eq!(count(2, Noun::Account, Lang::En), "2 accounts");
        assert_eq!(count(1, Noun::Problem, Lang::En), "1 problem");
    }

    #[test]
    fn checks_read_in_both_languages() {
        let pass = Check::pass("mailbox", "the mailbox a@b.c is reachable through Graph");
        assert_eq!(
            check_text(&pass, Lang::Es).0,
            "El buzón es accesible — the mailbox a@b.c is reachable through Graph"
        );
        assert_eq!(check_text(&pass, Lang::En).0, pass.detail);
        let skipped = Check::skipped("token");
        assert_eq!(check_text(&skipped, Lang::Es).0, Msg::CheckNotRun.text(Lang::Es));
        assert_eq!(check_text(&skipped, Lang::En).0, skipped.detail);
        let err = Error::new(ErrorKind::Config, "bad").with_code("outbox.url");
        let failed = check_text(&Check::fail("outbox", &err), Lang::Es);
        assert!(failed.0.starts_with("La URL de la base de datos"), "{failed:?}");
        assert!(failed.1.is_some_and(|r| r.starts_with("Use sqlite:")));
    }

    #[test]
    fn every_check_name_and_provider_has_both_languages() {
        let names = [
            "configuration",
            "tenant",
            "token",
            "permissions",
            "mailbox",
            "test-mail",
            "directory",
            "writable",
            "connect",
            "tls",
            "ehlo",
            "auth",
        ];
        for name in names {
            let (es, en) = (check_pass_text(name, Lang::Es), check_pass_text(name, Lang::En));
            assert!(es.is_some() && en.is_some() && es != en, "{name}");
        }
        for ty in ["file", "office365", "smtp"] {
            assert_ne!(provider_description(ty, Lang::Es), provider_description(ty, Lang::En));
            assert!(provider_description(ty, Lang::Es).is_some(), "{ty}");
        }
    }

    #[test]
    fn localized_prefers_the_providers_own_english_remedy() {
        let err = Error::new(ErrorKind::Config, "bad url")
            .with_code("outbox.url")
            .with_remedy("use sqlite:///x.db");
        let (es, en) = (localized(&err, Lang::Es), localized(&err, Lang::En));
        assert!(es.1.unwrap().starts_with("Use sqlite:///ruta"));
        assert_eq!(en.1.as_deref(), Some("use sqlite:///x.db"));
        let unknown = Error::new(ErrorKind::Unexpected, "odd");
        assert_eq!(localized(&unknown, Lang::Es), ("odd".to_owned(), None));
    }
}
