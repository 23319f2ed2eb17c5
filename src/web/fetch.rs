//! [`Transport`] over the browser's `fetch`: CORS, no cookies.

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, RequestCredentials, RequestInit, RequestMode};

use super::Browser;
use crate::platform::{NetworkError, Request, Response, Transport};

impl Transport for Browser {
    async fn send(&self, request: Request) -> Result<Response, NetworkError> {
        let window = web_sys::window().ok_or(NetworkError)?;
        let headers = Headers::new().map_err(|_| NetworkError)?;
        let init = RequestInit::new();
        init.set_method(request.method.as_str());
        init.set_mode(RequestMode::Cors);
        // The session travels in the Authorization header, never in cookies.
        init.set_credentials(RequestCredentials::Omit);
        if let Some(token) = &request.bearer {
            headers
                .set("Authorization", &["Bearer ", token].concat())
                .map_err(|_| NetworkError)?;
        }
        // The server's own texts (greetings, rule texts) in the customer's
        // language.
        if let Some(lang) = crate::ui::text::lang() {
            headers
                .set("Accept-Language", &lang)
                .map_err(|_| NetworkError)?;
        }
        if let Some(body) = &request.body {
            headers
                .set("Content-Type", "application/json")
                .map_err(|_| NetworkError)?;
            init.set_body(&body.into());
        }
        init.set_headers(&headers);
        let request = web_sys::Request::new_with_str_and_init(&request.url, &init)
            .map_err(|_| NetworkError)?;
        let response: web_sys::Response = JsFuture::from(window.fetch_with_request(&request))
            .await
            .map_err(|_| NetworkError)?
            .dyn_into()
            .map_err(|_| NetworkError)?;
        let text = JsFuture::from(response.text().map_err(|_| NetworkError)?)
            .await
            .map_err(|_| NetworkError)?;
        Ok(Response {
            status: response.status(),
            body: text.as_string().unwrap_or_default(),
        })
    }
}
