//! The Spanish `--help` of the `g360-mail` command line.
//!
//! clap takes its texts at run time: the CLI writes its help in English (doc
//! comments) and, under `--lang es` or `lang = "es"`, replaces each text by
//! the one keyed here. Keys: `cmd:` and the subcommand path for a command's
//! about (`cmd:` alone is the program), the path, a dot and the argument's id
//! for an argument (`send.to`; global arguments have no path: `.lang`).
//! The CLI's tests check that every argument and command has a text here and
//! that every key names one.

/// The Spanish help texts by key.
pub const CLI_HELP_ES: &[(&str, &str)] = &[
    ("cmd:", "g360-mail: envía, lee y comprueba las cuentas de correo de G360 ERP."),
    (
        ".config",
        "Fichero de configuración (por defecto: $G360_MAIL_CONFIG, si no ./g360-mail.toml, si no la configuración incluida).",
    ),
    (
        ".lang",
        "Idioma de los mensajes: es o en (por defecto: `lang` de la configuración, si no es).",
    ),
    (".json", "Escribe un objeto JSON en lugar de texto."),
    (".help", "Muestra la ayuda (--help para más detalle)."),
    (".version", "Muestra la versión."),
    ("cmd:help", "Muestra esta ayuda o la del comando indicado."),
    ("cmd:send", "Envía un e-mail como un usuario del ERP."),
    ("send.user", "Usuario del ERP cuya cuenta se usa (se puede omitir si solo hay una cuenta)."),
    (
        "send.from_csv",
        "Envía un e-mail por cada fila de un fichero CSV (columnas: to, cc, bcc, subject, body, html_file, attach; separadas por `,` o `;`; ficheros relativos a la carpeta del CSV).",
    ),
    (
        "send.attach_root",
        "La carpeta en la que deben estar los ficheros que nombra el CSV (html_file, attach) (por defecto: la carpeta del propio CSV). Se rechazan las rutas absolutas, `..` y los enlaces que salgan de ella.",
    ),
    (
        "send.delimiter",
        "El separador de campos del CSV: `,`, `;` (Excel en español) o `tab` (por defecto: el que se detecta en la cabecera).",
    ),
    (
        "send.concurrency",
        "Cuántos e-mails de un CSV se envían a la vez (el proveedor mantiene como mucho 4 peticiones en curso por buzón).",
    ),
    ("send.to", "Destinatarios, separados por comas (se puede repetir)."),
    ("send.cc", "Destinatarios en copia."),
    ("send.bcc", "Destinatarios en copia oculta."),
    ("send.reply_to", "Direcciones de respuesta (Reply-To)."),
    ("send.subject", "Asunto."),
    ("send.body", "Cuerpo en texto plano."),
    ("send.body_file", "Cuerpo en texto plano leído de un fichero (UTF-8)."),
    (
        "send.html_file",
        "Cuerpo HTML leído de un fichero (UTF-8); puede ir con --body como alternativa en texto.",
    ),
    ("send.attach", "Adjunta un fichero (se puede repetir)."),
    ("send.header", "Cabecera propia \"X-Nombre: valor\" (se puede repetir)."),
    ("send.importance", "Importancia."),
    (
        "send.queue",
        "Pone los e-mails en la bandeja de salida duradera en lugar de enviarlos ahora; muestra sus ids.",
    ),
    ("cmd:inbox", "Lista los mensajes de una carpeta, los más recientes primero."),
    ("inbox.user", "Usuario del ERP cuya cuenta se usa (se puede omitir si solo hay una cuenta)."),
    (
        "inbox.folder",
        "Carpeta: inbox, sentitems, drafts, deleteditems, junkemail, archive o el id de una carpeta.",
    ),
    ("inbox.unread", "Solo los mensajes no leídos."),
    ("inbox.top", "Cuántos mensajes (de 1 a 1000)."),
    ("inbox.next", "Continúa tras una página anterior (el código que se mostró al final)."),
    (
        "inbox.all",
        "Lee todas las páginas (de --top mensajes cada una), con el progreso en un terminal.",
    ),
    ("cmd:show", "Muestra un mensaje."),
    ("show.user", "Usuario del ERP cuya cuenta se usa (se puede omitir si solo hay una cuenta)."),
    ("show.id", "El id del mensaje que muestra `inbox`."),
    ("cmd:verify", "Hace las comprobaciones de una cuenta (diagnóstico de la configuración)."),
    ("verify.user", "Usuario del ERP cuya cuenta se comprueba."),
    ("verify.all", "Comprueba todas las cuentas."),
    ("verify.send_test_to", "Termina enviando un e-mail de prueba a esta dirección."),
    ("cmd:config", "Comprueba o muestra la configuración."),
    ("cmd:config check", "Valida la configuración y lista todos sus problemas."),
    ("cmd:config show", "Muestra la configuración efectiva, sin los secretos."),
    ("cmd:providers", "Lista los tipos de proveedor registrados."),
    (
        "cmd:outbox",
        "La bandeja de salida duradera: su procesador, su estado, los reintentos y la retención.",
    ),
    (
        "cmd:outbox run",
        "Ejecuta el procesador: envía el correo en cola por la ruta de cada usuario.",
    ),
    (
        "outbox run.until_empty",
        "Termina cuando no queda correo en cola ni enviándose (los fallidos no lo mantienen en marcha).",
    ),
    (
        "outbox run.grace",
        "Con SIGTERM o Ctrl-C, cuánto pueden durar aún los envíos en curso, p. ej. 30s o 2m (por defecto: `[outbox] shutdown_grace_ms`, 30 s).",
    ),
    (
        "outbox run.metrics_addr",
        "Sirve las métricas de Prometheus en http://DIRECCIÓN/metrics mientras se ejecuta, p. ej. 127.0.0.1:9464.",
    ),
    (
        "cmd:outbox status",
        "Cuenta los correos en cada estado y muestra la cola y los límites de cada buzón que envía.",
    ),
    ("outbox status.metrics", "Escribe las métricas en el formato de texto de Prometheus."),
    ("cmd:outbox list", "Lista los correos, los más recientes primero."),
    ("outbox list.state", "Solo los correos en este estado."),
    ("outbox list.limit", "Cuántos correos como mucho."),
    ("cmd:outbox show", "Muestra un correo con sus intentos."),
    ("outbox show.id", "El id en la bandeja de salida."),
    ("cmd:outbox retry", "Vuelve a poner en cola un correo fallido."),
    ("outbox retry.id", "El id en la bandeja de salida."),
    (
        "cmd:outbox purge",
        "Borra los correos enviados con más antigüedad que una edad como 30d, 12h o 90m.",
    ),
    ("outbox purge.sent_older_than", "La edad: un número seguido de d, h, m o s."),
    (
        "cmd:bounces",
        "Informes de entrega (rebotes, NDR): qué destinatario de qué correo falló y por qué.",
    ),
    (
        "cmd:bounces parse",
        "Lee informes de entrega (ficheros .eml): por fichero el Message-ID original, por destinatario la dirección, la acción, el estado, el tipo y el diagnóstico.",
    ),
    ("bounces parse.files", "Los ficheros de los informes."),
    (
        "cmd:bounces sync",
        "Lee los informes de entrega nuevos de un buzón y anota, por correo y destinatario, rebotado, retrasado o entregado (cada informe una vez).",
    ),
    ("bounces sync.user", "El usuario cuyo buzón se lee (por defecto: la única cuenta)."),
    ("bounces sync.all", "Todas las cuentas cuya ruta puede leer informes."),
    (
        "cmd:bounces list",
        "Lista los informes de entrega anotados hace poco: el asunto original y el resultado de cada destinatario.",
    ),
    ("bounces list.since", "Hasta cuándo atrás, p. ej. 7d, 12h o 30m."),
    ("bounces list.limit", "Cuántos informes como mucho."),
];

/// The Spanish help text of `key`, if any.
pub fn cli_help_es(key: &str) -> Option<&'static str> {
    CLI_HELP_ES.iter().find(|(k, _)| *k == key).map(|(_, text)| *text)
}
