//! CI jobs: what failed in a pipeline, the bridges (`trigger:` jobs) that started downstream
//! pipelines, retrying a job, and reading its log.
//!
//! A job log can be hundreds of megabytes, so [`Client::job_trace`] hands over a stream of
//! chunks (or an `AsyncRead`) for the caller to excerpt as it reads, never one `String`.
//!
//! Retry rules: listing and opening the log are retried on every transient failure (a broken
//! stream is reported as an error item; the caller may open the log again). Retrying a job
//! creates a new job, so it is sent again only when GitLab certainly did not act.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::stream::{BoxStream, Stream, StreamExt};
use reqwest::Method;
use tokio::io::AsyncRead;

use super::client::{Client, ProjectId};
use super::error::Error;
use super::retry::Replay;
use super::types::{Bridge, Job, Status};

/// A job's log as it arrives.
pub struct JobTrace {
    content_length: Option<u64>,
    chunks: BoxStream<'static, Result<Bytes, Error>>,
}

impl std::fmt::Debug for JobTrace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobTrace").field("content_length", &self.content_length).finish_non_exhaustive()
    }
}

impl JobTrace {
    /// The size GitLab announced, if it did.
    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    /// The log as an `AsyncRead`; a transport error surfaces as an `io::Error` wrapping ours.
    pub fn into_async_read(self) -> impl AsyncRead + Send + Unpin {
        tokio_util::io::StreamReader::new(self.chunks.map(|chunk| chunk.map_err(std::io::Error::other)))
    }
}

impl Stream for JobTrace {
    type Item = Result<Bytes, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.chunks.poll_next_unpin(cx)
    }
}

impl Client {
    /// The jobs of a pipeline. `scopes` filters by status (empty: all); `include_retried` adds
    /// the older runs of retried jobs (their [`Job::retried`] is `true`).
    pub async fn pipeline_jobs(
        &self,
        project: impl Into<ProjectId>,
        pipeline_id: u64,
        scopes: &[Status],
        include_retried: bool,
    ) -> Result<Vec<Job>, Error> {
        let path = format!("/projects/{}/pipelines/{pipeline_id}/jobs", project.into().segment());
        let mut query: Vec<(&str, String)> =
            scopes.iter().map(|scope| ("scope[]", scope.as_str().to_owned())).collect();
        if include_retried {
            query.push(("include_retried", "true".to_owned()));
        }
        self.get_all(&path, &query).await
    }

    /// The bridges of a pipeline: its `trigger:` jobs, which `/jobs` leaves out, each with the
    /// downstream pipeline it started. `scopes` filters by status (empty: all).
    pub async fn pipeline_bridges(
        &self,
        project: impl Into<ProjectId>,
        pipeline_id: u64,
        scopes: &[Status],
    ) -> Result<Vec<Bridge>, Error> {
        let path = format!("/projects/{}/pipelines/{pipeline_id}/bridges", project.into().segment());
        let query: Vec<(&str, String)> = scopes.iter().map(|scope| ("scope[]", scope.as_str().to_owned())).collect();
        self.get_all(&path, &query).await
    }

    /// `GET /projects/:id/jobs/:job_id`.
    pub async fn job(&self, project: impl Into<ProjectId>, job_id: u64) -> Result<Job, Error> {
        self.get(&format!("/projects/{}/jobs/{job_id}", project.into().segment()), &[]).await
    }

    /// `POST /projects/:id/jobs/:job_id/retry`: the answer is the new job.
    pub async fn retry_job(&self, project: impl Into<ProjectId>, job_id: u64) -> Result<Job, Error> {
        let path = format!("/projects/{}/jobs/{job_id}/retry", project.into().segment());
        let request = self.request(Method::POST, &path, &[], None, Replay::OnlyUnsent)?;
        self.call(&request).await
    }

    /// `GET /projects/:id/jobs/:job_id/trace`: the raw log (ANSI colours and section markers
    /// included), streamed.
    pub async fn job_trace(&self, project: impl Into<ProjectId>, job_id: u64) -> Result<JobTrace, Error> {
        let path = format!("/projects/{}/jobs/{job_id}/trace", project.into().segment());
        let request = self.request(Method::GET, &path, &[], None, Replay::Always)?;
        let response = self.execute_streaming(&request).await?;
        let content_length = response.content_length();
        let endpoint = request.endpoint();
        let chunks = response
            .bytes_stream()
            .map(move |chunk| {
                chunk.map_err(|source| Error::Transport { endpoint: endpoint.clone(), attempts: 1, source })
            })
            .boxed();
        Ok(JobTrace { content_length, chunks })
    }
}
