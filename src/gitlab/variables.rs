//! The agent project's CI/CD variables: the tokens its jobs use, stored masked, hidden where
//! GitLab supports it, and protected.
//!
//! Shapes: Project-level CI/CD variables API, <https://docs.gitlab.com/api/project_level_variables/>
//! (`GET /projects/:id/variables/:key`; `POST /projects/:id/variables` with `key`, `value`,
//! `masked`, `masked_and_hidden`, `protected`, `raw`, `description`; `PUT
//! /projects/:id/variables/:key`). A hidden variable's `value` comes back `null`: nobody can
//! read it again, so a caller can only keep it or overwrite it. `hidden` cannot change after
//! creation. GitLab before 17.4 ignores `masked_and_hidden` and stores the variable masked.
//!
//! Values are secrets: they travel in request bodies only, are read into [`SecretString`], and
//! are registered with the redactor by whoever holds them.
//!
//! Retry rules: reads and updates (a `PUT` of the whole variable) are retried on every transient
//! failure. Creating is sent again only when GitLab certainly did not act; after an ambiguous
//! failure the client reads the variable and returns it if the first attempt landed.

use reqwest::Method;
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

use super::client::{Client, ProjectId, encode_segment};
use super::error::{Error, optional};
use super::retry::Replay;

/// A project's CI/CD variable.
#[derive(Debug, Clone, Deserialize)]
pub struct Variable {
    pub key: String,
    /// `None` for a hidden variable, whose value GitLab never shows again.
    #[serde(default)]
    pub value: Option<SecretString>,
    #[serde(default)]
    pub masked: bool,
    /// Hidden variables exist since GitLab 17.4; older versions omit the field.
    #[serde(default)]
    pub hidden: bool,
    #[serde(default)]
    pub protected: bool,
    /// `true`: `$` in the value is not expanded.
    #[serde(default)]
    pub raw: bool,
}

/// A secret variable to store: masked, hidden where supported, protected and raw.
#[derive(Debug, Clone)]
pub struct SecretVariable<'a> {
    pub key: &'a str,
    pub value: &'a SecretString,
    pub description: &'a str,
}

impl SecretVariable<'_> {
    /// The form fields both creating and updating send. `masked_and_hidden` only on creation:
    /// GitLab refuses to change `hidden` afterwards.
    fn fields(&self, creating: bool) -> Vec<(String, String)> {
        let mut fields = vec![
            ("value".to_owned(), self.value.expose_secret().to_owned()),
            ("masked".to_owned(), "true".to_owned()),
            ("protected".to_owned(), "true".to_owned()),
            ("raw".to_owned(), "true".to_owned()),
            ("description".to_owned(), self.description.to_owned()),
        ];
        if creating {
            fields.insert(0, ("key".to_owned(), self.key.to_owned()));
            fields.push(("masked_and_hidden".to_owned(), "true".to_owned()));
        }
        fields
    }
}

impl Client {
    /// `GET /projects/:id/variables/:key`; `None` when GitLab answers 404.
    pub async fn project_variable(&self, project: impl Into<ProjectId>, key: &str) -> Result<Option<Variable>, Error> {
        let path = format!("/projects/{}/variables/{}", project.into().segment(), encode_segment(key));
        optional(self.get(&path, &[]).await)
    }

    /// `POST /projects/:id/variables`: a new masked, hidden, protected variable.
    pub async fn create_secret_variable(
        &self,
        project: impl Into<ProjectId>,
        variable: &SecretVariable<'_>,
    ) -> Result<Variable, Error> {
        let project = project.into();
        let path = format!("/projects/{}/variables", project.segment());
        let request = self.form_request(Method::POST, &path, variable.fields(true), Replay::OnlyUnsent)?;
        self.call_reconciled(&request, || self.project_variable(&project, variable.key)).await
    }

    /// `PUT /projects/:id/variables/:key`: a new value, masked, protected and raw (a hidden
    /// variable stays hidden).
    pub async fn update_secret_variable(
        &self,
        project: impl Into<ProjectId>,
        variable: &SecretVariable<'_>,
    ) -> Result<Variable, Error> {
        let path = format!("/projects/{}/variables/{}", project.into().segment(), encode_segment(variable.key));
        let request = self.form_request(Method::PUT, &path, variable.fields(false), Replay::Always)?;
        self.call(&request).await
    }
}
