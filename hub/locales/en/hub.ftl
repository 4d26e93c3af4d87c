# The hub's pages in English. Every message here has its twin in ../cy/hub.ftl (a unit test checks).
# Placeables: $service is the relying service's registered name; $provider a provider's name.

## Every page
service-name = GOV.UK identity hub
skip-link = Skip to main content
language-nav = Language
footer-licence-before = All content is available under the
footer-licence-link = Open Government Licence v3.0
footer-licence-after = , except where otherwise stated
copyright = © Crown copyright
error-code = Error code:
error-prefix = Error:
there-is-a-problem = There is a problem
important = Important
continue = Continue
return-to-service = Return to the service
choose-another = Choose another way to sign in

## The service or the hub cannot go on
unavailable-heading = Sorry, there is a problem with the service
unavailable-body = Try again later. Nothing you entered has been lost: go back to the service you were using and start again.
too-long-heading = The link you followed is too long
too-many-heading = You have tried too many times
too-many-body = Wait a minute, then go back to the service you were using and try again.
go-back-try-again = Go back to the service you were using and try again.
session-expired-heading = Your session has timed out
not-yours-body = This page belongs to a sign in that was started somewhere else, or the form was not sent from our page.
session-expired-body = You have not done anything for a while, or your browser did not keep our cookie, so we could not continue.
go-back-sign-in-again = Go back to the service you were using and sign in again.
not-found-heading = Page not found
not-found-body = If you typed the web address, check it is correct. If you followed a link from a service, go back to it and try again.
logout-confirm-heading = Do you want to sign out?
logout-confirm-body = You will be signed out of GOV.UK sign in. Services you used may keep you signed in until you sign out of them too.
logout-confirm-button = Sign out
signed-out-heading = You have signed out
signed-out-body = You have signed out of GOV.UK sign in. To use a service again, go back to it and sign in.

## A request from a service that cannot be trusted
request-problem-heading = There is a problem with the service you came from
request-problem-next = Go back to the service you were using and try again. If this keeps happening, contact that service.
unknown-service-heading = The service you came from is not recognised
unknown-service-body = The request did not name a service registered with GOV.UK sign in.
unregistered-redirect-body = The address it asked us to send you back to is not registered, so we cannot send you there.
response-mode-body = The response mode { $mode } is not supported.
request-object-unchecked-body = Its signed request could not be checked.
request-object-refused-body = Its signed request was refused: { $reason }.
request-unreadable-body = The request could not be read.

## Choosing a provider
choose-heading = Choose how to sign in to { $service }
choose-hint-identity = This service needs to confirm your identity. Choose a certified company to prove who you are.
choose-hint = Choose a certified company you have an account with.
choose-error = Select how you want to sign in
provider-unavailable-hint = Temporarily unavailable. Try again later or choose another.
provider-failed-hint = Did not work just now. You can try again or choose another.
return-to-named-service = Return to { $service }
no-provider-heading = You cannot sign in to this service at the moment
no-provider-body = None of the certified companies can confirm your identity to the level this service needs.
level-notice = { $provider } could not confirm your identity to the level this service needs. You can choose another way.

## Consent
consent-heading = Share your information with { $service }
consent-confirmed = { $provider } has confirmed your identity. { $service } is asking for:
consent-decline-note = If you do not share it, you will go back to { $service } without signing in.
consent-accept = Share and continue
consent-decline = Do not share
consent-your-provider = The company you chose
claim-core-identity = your name and date of birth
claim-address = your address
claim-passport = your passport details
claim-driving-permit = your driving licence details

## What a provider answered
provider-problem-heading = Sorry, there is a problem with { $provider }
provider-problem-body = We could not complete your sign in with { $provider }. You have not been signed in.
provider-problem-next = You can choose another way to sign in, or try again later.
callback-mismatch-heading = Sorry, we could not sign you in
callback-mismatch-body = The answer from the company you signed in with could not be matched to your sign in, so you have not been signed in.
denied-heading = You have not signed in with { $provider }
denied-body = You can choose another way to sign in, or return to the service.
return-link-note = To go back to the service without signing in, use the link below.
pending-heading = Your identity check is not finished yet
pending-body = { $provider } is still checking your identity. They will contact you when the check is finished.
pending-next = You can return to the service now and try again later.
failed-heading = We could not confirm your identity
failed-body = { $provider } could not confirm your identity.
failed-next = You can return to the service to find other ways to use it.
form-post-heading = Returning you to the service
form-post-body = If nothing happens, select Continue.
form-post-button = Continue
request-uri-refused-body = Its pushed request could not be used: { $reason }.
sandbox-heading = Sandbox: what the hub answers your service
sandbox-body = Force a broken or unusual answer for one service, sign in from that service and check that it refuses the answer. The answer stays forced until you choose the normal answer again.
sandbox-done = Done
sandbox-now = Answers forced now
sandbox-client = Service
sandbox-answer = Answer
sandbox-none = Every service gets the normal answer.
sandbox-normal = The normal answer
sandbox-return-code = Or this return code instead of the identity credential (letters and digits)
sandbox-force = Force this answer
sandbox-rotate = Rotate the signing keys now
sandbox-logout = Send a back-channel logout now
sandbox-refused = The sandbox did not take that: { $reason }.
