//! Policies written as text, the way an operator sets them in configuration:
//! `IsAuthenticated & (IsOwner | DjangoObjectPermissions)`.
//!
//! Grammar (Python's operator precedence, which DRF's composition inherits: `~` binds
//! tightest, then `&`, then `|`; binary operators associate to the left):
//!
//! ```text
//! expr   := term ('|' term)*
//! term   := factor ('&' factor)*
//! factor := '~' factor | '(' expr ')' | NAME
//! NAME   := [A-Za-z_][A-Za-z0-9_]*      a class registered in a Registry
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::builtins::{
    AllowAny, DjangoModelPermissions, DjangoModelPermissionsOrAnonReadOnly,
    DjangoObjectPermissions, IsAdminUser, IsAuthenticated, IsAuthenticatedOrReadOnly, PermsMap,
};
use super::{Perm, Permission};

/// A parsed policy expression. Class names keep the column they were written at, so
/// an unknown one can be pointed at.
///
/// ```
/// use axum_drf::permissions::parse_expression;
/// let e = parse_expression("A | B & ~C").unwrap();
/// assert_eq!(e.to_string(), "(A | (B & ~C))");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// A permission class by name; `column` is 1-based, in characters.
    Class {
        /// The name as written.
        name: String,
        /// Where it starts.
        column: usize,
    },
    /// `~x`.
    Not(Box<Expr>),
    /// `x & y`.
    And(Box<Expr>, Box<Expr>),
    /// `x | y`.
    Or(Box<Expr>, Box<Expr>),
}

impl fmt::Display for Expr {
    /// Fully parenthesised, so the grouping the parser chose is visible.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Class { name, .. } => f.write_str(name),
            Expr::Not(x) => write!(f, "~{x}"),
            Expr::And(a, b) => write!(f, "({a} & {b})"),
            Expr::Or(a, b) => write!(f, "({a} | {b})"),
        }
    }
}

impl Expr {
    /// The permission this expression describes, with classes from `registry`.
    pub fn build(&self, registry: &Registry, source: &str) -> Result<Perm, PolicyError> {
        Ok(match self {
            Expr::Class { name, column } => registry.get(name).ok_or_else(|| PolicyError {
                expression: source.to_owned(),
                column: *column,
                kind: PolicyErrorKind::UnknownClass {
                    name: name.clone(),
                    known: registry.names().map(str::to_owned).collect(),
                },
            })?,
            Expr::Not(x) => !x.build(registry, source)?,
            Expr::And(a, b) => a.build(registry, source)? & b.build(registry, source)?,
            Expr::Or(a, b) => a.build(registry, source)? | b.build(registry, source)?,
        })
    }
}

/// What is wrong with a policy expression.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyErrorKind {
    /// Nothing but blanks.
    Empty,
    /// A character that is no part of the syntax.
    UnexpectedChar(char),
    /// A token where another was needed.
    Unexpected {
        /// What was found (quoted token or "end of expression").
        found: String,
        /// What would have been accepted.
        expected: &'static str,
    },
    /// A `(` without its `)`; the error points at the `(`.
    Unclosed,
    /// A name no registered class has.
    UnknownClass {
        /// The name.
        name: String,
        /// The registered names, sorted.
        known: Vec<String>,
    },
}

impl fmt::Display for PolicyErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyErrorKind::Empty => f.write_str("empty permission policy"),
            PolicyErrorKind::UnexpectedChar('!') => {
                f.write_str("unexpected character '!' (negation is written ~)")
            }
            PolicyErrorKind::UnexpectedChar(c) => write!(f, "unexpected character {c:?}"),
            PolicyErrorKind::Unexpected { found, expected } => {
                write!(f, "expected {expected}, found {found}")
            }
            PolicyErrorKind::Unclosed => f.write_str("this ( is never closed"),
            PolicyErrorKind::UnknownClass { name, known } => write!(
                f,
                "unknown permission class \"{name}\" (known: {})",
                known.join(", ")
            ),
        }
    }
}

/// A policy expression that cannot be used, with the place it goes wrong. Displays as the
/// message, then the expression with a caret under the column:
///
/// ```
/// use axum_drf::permissions::Registry;
/// let err = Registry::with_builtins().parse("IsAuthenticated & IsOwnr").unwrap_err();
/// assert_eq!(err.column, 19);
/// let text = err.to_string();
/// assert!(text.starts_with("column 19: unknown permission class \"IsOwnr\""));
/// assert!(text.ends_with("\n    IsAuthenticated & IsOwnr\n                      ^"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {kind}\n    {expression}\n    {caret}^", caret = " ".repeat(column.saturating_sub(1)))]
pub struct PolicyError {
    /// The expression as given.
    pub expression: String,
    /// 1-based column, in characters, of the offending spot.
    pub column: usize,
    /// What is wrong.
    pub kind: PolicyErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Name(String),
    And,
    Or,
    Not,
    Open,
    Close,
    End,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Name(n) => format!("\"{n}\""),
            Tok::And => "\"&\"".into(),
            Tok::Or => "\"|\"".into(),
            Tok::Not => "\"~\"".into(),
            Tok::Open => "\"(\"".into(),
            Tok::Close => "\")\"".into(),
            Tok::End => "end of expression".into(),
        }
    }
}

struct Parser<'a> {
    source: &'a str,
    tokens: Vec<(Tok, usize)>,
    pos: usize,
}

const OPERAND: &str = "a permission class, \"~\" or \"(\"";

impl<'a> Parser<'a> {
    fn error(&self, column: usize, kind: PolicyErrorKind) -> PolicyError {
        PolicyError {
            expression: self.source.to_owned(),
            column,
            kind,
        }
    }

    fn lex(source: &'a str) -> Result<Self, PolicyError> {
        let mut tokens = Vec::new();
        let chars: Vec<char> = source.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let column = i + 1;
            let single = match c {
                '&' => Some(Tok::And),
                '|' => Some(Tok::Or),
                '~' => Some(Tok::Not),
                '(' => Some(Tok::Open),
                ')' => Some(Tok::Close),
                _ => None,
            };
            if let Some(tok) = single {
                tokens.push((tok, column));
                i += 1;
            } else if c.is_whitespace() {
                i += 1;
            } else if c.is_ascii_alphabetic() || c == '_' {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                tokens.push((Tok::Name(chars[start..i].iter().collect()), column));
            } else {
                return Err(PolicyError {
                    expression: source.to_owned(),
                    column,
                    kind: PolicyErrorKind::UnexpectedChar(c),
                });
            }
        }
        tokens.push((Tok::End, chars.len() + 1));
        Ok(Parser {
            source,
            tokens,
            pos: 0,
        })
    }

    fn peek(&self) -> &(Tok, usize) {
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn bump(&mut self) -> (Tok, usize) {
        let t = self.peek().clone();
        self.pos += 1;
        t
    }

    fn expr(&mut self) -> Result<Expr, PolicyError> {
        let mut left = self.term()?;
        while self.peek().0 == Tok::Or {
            self.bump();
            left = Expr::Or(Box::new(left), Box::new(self.term()?));
        }
        Ok(left)
    }

    fn term(&mut self) -> Result<Expr, PolicyError> {
        let mut left = self.factor()?;
        while self.peek().0 == Tok::And {
            self.bump();
            left = Expr::And(Box::new(left), Box::new(self.factor()?));
        }
        Ok(left)
    }

    fn factor(&mut self) -> Result<Expr, PolicyError> {
        let (tok, column) = self.bump();
        match tok {
            Tok::Not => Ok(Expr::Not(Box::new(self.factor()?))),
            Tok::Name(name) => Ok(Expr::Class { name, column }),
            Tok::Open => {
                let inner = self.expr()?;
                match self.peek().clone() {
                    (Tok::Close, _) => {
                        self.bump();
                        Ok(inner)
                    }
                    (Tok::End, _) => Err(self.error(column, PolicyErrorKind::Unclosed)),
                    (other, at) => Err(self.error(
                        at,
                        PolicyErrorKind::Unexpected {
                            found: other.describe(),
                            expected: "\"&\", \"|\" or \")\"",
                        },
                    )),
                }
            }
            other => Err(self.error(
                column,
                PolicyErrorKind::Unexpected {
                    found: other.describe(),
                    expected: OPERAND,
                },
            )),
        }
    }
}

/// Parses a policy expression without resolving its class names (syntax only).
///
/// ```
/// use axum_drf::permissions::{parse_expression, PolicyErrorKind};
/// assert_eq!(parse_expression("~A & B | C").unwrap().to_string(), "((~A & B) | C)");
/// assert_eq!(parse_expression("~(A | B)").unwrap().to_string(), "~(A | B)");
/// let err = parse_expression("A & | B").unwrap_err();
/// assert_eq!(err.column, 5);
/// assert_eq!(parse_expression("  ").unwrap_err().kind, PolicyErrorKind::Empty);
/// ```
pub fn parse_expression(source: &str) -> Result<Expr, PolicyError> {
    let mut parser = Parser::lex(source)?;
    if parser.peek().0 == Tok::End {
        return Err(parser.error(1, PolicyErrorKind::Empty));
    }
    let expr = parser.expr()?;
    match parser.peek().clone() {
        (Tok::End, _) => Ok(expr),
        (Tok::Close, at) => Err(parser.error(
            at,
            PolicyErrorKind::Unexpected {
                found: "\")\"".into(),
                expected: "\"&\", \"|\" or end of expression (unbalanced parenthesis)",
            },
        )),
        (other, at) => Err(parser.error(
            at,
            PolicyErrorKind::Unexpected {
                found: other.describe(),
                expected: "\"&\", \"|\" or end of expression",
            },
        )),
    }
}

/// The permission classes a policy expression may name. An application extends the
/// built-ins with its own classes (e.g. `IsOwner`).
///
/// | name | class |
/// |---|---|
/// | `AllowAny`, `IsAuthenticated`, `IsAuthenticatedOrReadOnly`, `IsAdminUser` | the DRF classes |
/// | `DjangoModelPermissions`, `DjangoModelPermissionsOrAnonReadOnly`, `DjangoObjectPermissions` | the DRF classes, DRF's perms map |
/// | `DjangoModelPermissionsWithView`, `DjangoObjectPermissionsWithView` | the same with GET/HEAD needing `view_<model>` ([`PermsMap::drf_with_view`]) |
///
/// ```
/// use axum_drf::permissions::{Access, Object, Permission, Registry};
///
/// struct IsOwner;
/// impl Permission for IsOwner {
///     fn has_object_permission(&self, access: &Access<'_>, obj: &dyn Object) -> bool {
///         access.user_id().is_some() && access.user_id() == obj.owner_id()
///     }
///     fn message(&self) -> Option<&str> { Some("Not an owner.") }
/// }
///
/// let mut registry = Registry::with_builtins();
/// registry.register("IsOwner", IsOwner);
/// let policy = registry.parse("IsAuthenticated & (IsOwner | DjangoObjectPermissions)").unwrap();
/// assert!(policy.needs().object_grants);
/// ```
#[derive(Clone, Default)]
pub struct Registry {
    classes: BTreeMap<String, Perm>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.classes.keys()).finish()
    }
}

impl Registry {
    /// No classes.
    pub fn new() -> Self {
        Self::default()
    }

    /// DRF's built-in classes (see the table above).
    pub fn with_builtins() -> Self {
        let mut r = Self::new();
        r.register("AllowAny", AllowAny)
            .register("IsAuthenticated", IsAuthenticated)
            .register("IsAuthenticatedOrReadOnly", IsAuthenticatedOrReadOnly)
            .register("IsAdminUser", IsAdminUser)
            .register("DjangoModelPermissions", DjangoModelPermissions::new())
            .register(
                "DjangoModelPermissionsOrAnonReadOnly",
                DjangoModelPermissionsOrAnonReadOnly::new(),
            )
            .register("DjangoObjectPermissions", DjangoObjectPermissions::new())
            .register(
                "DjangoModelPermissionsWithView",
                DjangoModelPermissions::with_perms_map(PermsMap::drf_with_view()),
            )
            .register(
                "DjangoObjectPermissionsWithView",
                DjangoObjectPermissions::with_perms_map(PermsMap::drf_with_view()),
            );
        r
    }

    /// Adds (or replaces) a class under `name`.
    ///
    /// # Panics
    /// If `name` is not an identifier (`[A-Za-z_][A-Za-z0-9_]*`), since an expression could
    /// never name it: a programming error.
    pub fn register(&mut self, name: &str, permission: impl Permission) -> &mut Self {
        let mut chars = name.chars();
        assert!(
            chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "permission class name {name:?} is not an identifier"
        );
        self.classes.insert(name.to_owned(), Perm::new(permission));
        self
    }

    /// The class registered as `name`.
    pub fn get(&self, name: &str) -> Option<Perm> {
        self.classes.get(name).cloned()
    }

    /// The registered names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.classes.keys().map(String::as_str)
    }

    /// Parses `expression` and builds its permission; the first syntax error, or else the
    /// leftmost unknown class, is reported with its column.
    pub fn parse(&self, expression: &str) -> Result<Perm, PolicyError> {
        parse_expression(expression)?.build(self, expression)
    }
}

/// Which objects a user can reach through a resource, in lists and by id (a miss is 404).
///
/// - `owner`: their own (`owner_id` = the user), as the reference does.
/// - `granted`: their own, plus those with a `view_<model>` object grant to them or one of
///   their groups; every object if they hold the model-level `view_<model>` permission or
///   are an active superuser (django-guardian's `get_objects_for_user`).
/// - `all`: every object (the permission policy alone decides).
///
/// ```
/// use axum_drf::permissions::Scope;
/// assert_eq!("granted".parse::<Scope>().unwrap(), Scope::Granted);
/// assert_eq!(Scope::default(), Scope::Owner);
/// assert!("everyone".parse::<Scope>().is_err());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Own objects only.
    #[default]
    Owner,
    /// Own objects and objects granted for viewing.
    Granted,
    /// Every object.
    All,
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scope::Owner => "owner",
            Scope::Granted => "granted",
            Scope::All => "all",
        })
    }
}

/// A scope name that is none of `owner`, `granted`, `all`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope \"{0}\": expected owner, granted or all")]
pub struct ScopeError(pub String);

impl FromStr for Scope {
    type Err = ScopeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "owner" => Ok(Scope::Owner),
            "granted" => Ok(Scope::Granted),
            "all" => Ok(Scope::All),
            other => Err(ScopeError(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(src: &str) -> String {
        parse_expression(src).unwrap().to_string()
    }

    fn err(src: &str) -> (usize, PolicyErrorKind) {
        let e = parse_expression(src).unwrap_err();
        (e.column, e.kind)
    }

    #[test]
    fn precedence_is_pythons() {
        assert_eq!(shape("A"), "A");
        assert_eq!(shape("A & B | C"), "((A & B) | C)");
        assert_eq!(shape("A | B & C"), "(A | (B & C))");
        assert_eq!(shape("~A & B"), "(~A & B)");
        assert_eq!(shape("~A | ~B & C"), "(~A | (~B & C))");
        assert_eq!(shape("~~A"), "~~A");
        assert_eq!(shape("A & B & C"), "((A & B) & C)");
        assert_eq!(shape("A | B | C"), "((A | B) | C)");
        assert_eq!(shape("(A | B) & C"), "((A | B) & C)");
        assert_eq!(shape("~(A & B)"), "~(A & B)");
        assert_eq!(shape("((A))"), "A");
        assert_eq!(
            shape("IsAuthenticated & (IsOwner | DjangoObjectPermissions)"),
            "(IsAuthenticated & (IsOwner | DjangoObjectPermissions))"
        );
        assert_eq!(shape("A&B|~C"), "((A & B) | ~C)");
    }

    #[test]
    fn errors_point_at_the_spot() {
        assert_eq!(err(""), (1, PolicyErrorKind::Empty));
        assert_eq!(err("A & "), (5, unexpected("end of expression", OPERAND)));
        assert_eq!(err("& A"), (1, unexpected("\"&\"", OPERAND)));
        assert_eq!(
            err("A B"),
            (3, unexpected("\"B\"", "\"&\", \"|\" or end of expression"))
        );
        assert_eq!(err("A | (B & C"), (5, PolicyErrorKind::Unclosed));
        assert_eq!(
            err("(A B)"),
            (4, unexpected("\"B\"", "\"&\", \"|\" or \")\""))
        );
        assert_eq!(err("A )").0, 3);
        assert_eq!(err("()"), (2, unexpected("\")\"", OPERAND)));
        assert_eq!(err("A && B"), (4, unexpected("\"&\"", OPERAND)));
        assert_eq!(err("!A"), (1, PolicyErrorKind::UnexpectedChar('!')));
        assert_eq!(err("A & rest.B"), (9, PolicyErrorKind::UnexpectedChar('.')));
        // Columns count characters, not bytes.
        assert_eq!(err("é").0, 1);
        assert_eq!(err("A & é").0, 5);
        assert_eq!(
            err("A ~ B"),
            (3, unexpected("\"~\"", "\"&\", \"|\" or end of expression"))
        );
    }

    fn unexpected(found: &str, expected: &'static str) -> PolicyErrorKind {
        PolicyErrorKind::Unexpected {
            found: found.into(),
            expected,
        }
    }

    #[test]
    fn unknown_classes_are_reported_leftmost_first_with_a_caret() {
        let r = Registry::with_builtins();
        let e = r.parse("IsAdminUser | (Nope & AlsoNope)").unwrap_err();
        assert_eq!(e.column, 16);
        assert!(matches!(&e.kind, PolicyErrorKind::UnknownClass { name, .. } if name == "Nope"));
        assert_eq!(
            e.to_string().lines().last().unwrap(),
            format!("    {}^", " ".repeat(15))
        );
        assert!(e
            .to_string()
            .contains("known: AllowAny, DjangoModelPermissions"));
        // Names are case-sensitive, like Python's.
        assert!(r.parse("isauthenticated").is_err());
        assert!(r.parse("IsAuthenticated & ~IsAdminUser").is_ok());
    }

    #[test]
    fn scope_reads_from_config_text() {
        #[derive(Deserialize)]
        struct S {
            scope: Scope,
        }
        let s: S = serde_json::from_str(r#"{"scope": "all"}"#).unwrap();
        assert_eq!(s.scope, Scope::All);
        assert!(serde_json::from_str::<S>(r#"{"scope": "mine"}"#).is_err());
        for s in [Scope::Owner, Scope::Granted, Scope::All] {
            assert_eq!(s.to_string().parse::<Scope>().unwrap(), s);
        }
    }
}
