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
