# Tudalennau'r hwb yn Gymraeg. The twin of ../en/hub.ftl, message for message (a unit test checks).
# These translations were written by the development team and await review by a Welsh Language Unit
# translator before use with the public.

## Every page
service-name = Hwb hunaniaeth GOV.UK
skip-link = Neidio i'r prif gynnwys
language-nav = Iaith
footer-licence-before = Mae'r holl gynnwys ar gael o dan y
footer-licence-link = Drwydded Llywodraeth Agored v3.0
footer-licence-after = , oni nodir yn wahanol
copyright = © Hawlfraint y Goron
error-code = Cod gwall:
error-prefix = Gwall:
there-is-a-problem = Mae problem wedi codi
important = Pwysig
continue = Parhau
return-to-service = Dychwelyd i'r gwasanaeth
choose-another = Dewis ffordd arall o fewngofnodi

## The service or the hub cannot go on
unavailable-heading = Mae'n ddrwg gennym, mae problem gyda'r gwasanaeth
too-many-heading = Rydych wedi ceisio gormod o weithiau
too-many-body = Arhoswch funud, yna ewch yn ôl i'r gwasanaeth yr oeddech yn ei ddefnyddio a rhowch gynnig arall arni.
not-yours-body = Mae'r dudalen hon yn perthyn i fewngofnodi a ddechreuwyd yn rhywle arall, neu ni anfonwyd y ffurflen o'n tudalen ni.
logout-confirm-heading = Ydych chi am allgofnodi?
logout-confirm-body = Byddwch yn cael eich allgofnodi o fewngofnodi GOV.UK. Efallai y bydd gwasanaethau a ddefnyddiwyd gennych yn eich cadw wedi mewngofnodi nes i chi allgofnodi ohonynt hefyd.
logout-confirm-button = Allgofnodi
unavailable-body = Rhowch gynnig arall arni yn nes ymlaen. Nid oes dim a roesoch wedi'i golli: ewch yn ôl i'r gwasanaeth yr oeddech yn ei ddefnyddio a dechrau eto.
too-long-heading = Mae'r ddolen a ddilynoch yn rhy hir
go-back-try-again = Ewch yn ôl i'r gwasanaeth yr oeddech yn ei ddefnyddio a rhowch gynnig arall arni.
session-expired-heading = Mae eich sesiwn wedi dod i ben
session-expired-body = Nid ydych wedi gwneud unrhyw beth ers tro, neu ni wnaeth eich porwr gadw ein cwci, felly nid oeddem yn gallu parhau.
go-back-sign-in-again = Ewch yn ôl i'r gwasanaeth yr oeddech yn ei ddefnyddio a mewngofnodi eto.
not-found-heading = Heb ddod o hyd i'r dudalen
not-found-body = Os gwnaethoch deipio'r cyfeiriad gwe, gwiriwch ei fod yn gywir. Os gwnaethoch ddilyn dolen o wasanaeth, ewch yn ôl iddo a rhowch gynnig arall arni.
signed-out-heading = Rydych wedi allgofnodi
signed-out-body = Rydych wedi allgofnodi o fewngofnodi GOV.UK. I ddefnyddio gwasanaeth eto, ewch yn ôl iddo a mewngofnodi.

## A request from a service that cannot be trusted
request-problem-heading = Mae problem gyda'r gwasanaeth y daethoch ohono
request-problem-next = Ewch yn ôl i'r gwasanaeth yr oeddech yn ei ddefnyddio a rhowch gynnig arall arni. Os yw hyn yn dal i ddigwydd, cysylltwch â'r gwasanaeth hwnnw.
unknown-service-heading = Nid ydym yn adnabod y gwasanaeth y daethoch ohono
unknown-service-body = Nid oedd y cais yn enwi gwasanaeth sydd wedi'i gofrestru gyda mewngofnodi GOV.UK.
unregistered-redirect-body = Nid yw'r cyfeiriad y gofynnodd i ni eich anfon yn ôl iddo wedi'i gofrestru, felly ni allwn eich anfon yno.
response-mode-body = Nid yw'r modd ymateb { $mode } yn cael ei gefnogi.
request-object-unchecked-body = Nid oedd modd gwirio ei gais wedi'i lofnodi.
request-object-refused-body = Gwrthodwyd ei gais wedi'i lofnodi: { $reason }.
request-unreadable-body = Nid oedd modd darllen y cais.

## Choosing a provider
choose-heading = Dewiswch sut i fewngofnodi i { $service }
choose-hint-identity = Mae angen i'r gwasanaeth hwn gadarnhau pwy ydych chi. Dewiswch gwmni ardystiedig i brofi pwy ydych chi.
choose-hint = Dewiswch gwmni ardystiedig y mae gennych gyfrif gydag ef.
choose-error = Dewiswch sut rydych eisiau mewngofnodi
provider-unavailable-hint = Ddim ar gael dros dro. Rhowch gynnig arall arni yn nes ymlaen neu dewiswch un arall.
provider-failed-hint = Ni weithiodd hynny nawr. Gallwch roi cynnig arall arni neu ddewis un arall.
return-to-named-service = Dychwelyd i { $service }
no-provider-heading = Ni allwch fewngofnodi i'r gwasanaeth hwn ar hyn o bryd
no-provider-body = Ni all yr un o'r cwmnïau ardystiedig gadarnhau pwy ydych chi i'r lefel sydd ei hangen ar y gwasanaeth hwn.
level-notice = Nid oedd { $provider } yn gallu cadarnhau pwy ydych chi i'r lefel sydd ei hangen ar y gwasanaeth hwn. Gallwch ddewis ffordd arall.

## Consent
consent-heading = Rhannu eich gwybodaeth gyda { $service }
consent-confirmed = Mae { $provider } wedi cadarnhau pwy ydych chi. Mae { $service } yn gofyn am:
consent-decline-note = Os na fyddwch yn ei rhannu, byddwch yn mynd yn ôl i { $service } heb fewngofnodi.
consent-accept = Rhannu a pharhau
consent-decline = Peidio â rhannu
consent-your-provider = Y cwmni a ddewisoch
claim-core-identity = eich enw a'ch dyddiad geni
claim-address = eich cyfeiriad
claim-passport = manylion eich pasbort
claim-driving-permit = manylion eich trwydded yrru

## What a provider answered
provider-problem-heading = Mae'n ddrwg gennym, mae problem gyda { $provider }
provider-problem-body = Nid oeddem yn gallu cwblhau eich mewngofnodi gyda { $provider }. Nid ydych wedi mewngofnodi.
provider-problem-next = Gallwch ddewis ffordd arall o fewngofnodi, neu roi cynnig arall arni yn nes ymlaen.
callback-mismatch-heading = Mae'n ddrwg gennym, nid oeddem yn gallu eich mewngofnodi
callback-mismatch-body = Nid oedd modd paru'r ateb gan y cwmni y gwnaethoch fewngofnodi gydag ef â'ch mewngofnodi, felly nid ydych wedi mewngofnodi.
denied-heading = Nid ydych wedi mewngofnodi gyda { $provider }
denied-body = Gallwch ddewis ffordd arall o fewngofnodi, neu ddychwelyd i'r gwasanaeth.
return-link-note = I fynd yn ôl i'r gwasanaeth heb fewngofnodi, defnyddiwch y ddolen isod.
pending-heading = Nid yw'r gwiriad o bwy ydych chi wedi'i orffen eto
pending-body = Mae { $provider } yn dal i wirio pwy ydych chi. Byddant yn cysylltu â chi pan fydd y gwiriad wedi'i orffen.
pending-next = Gallwch ddychwelyd i'r gwasanaeth nawr a rhoi cynnig arall arni yn nes ymlaen.
failed-heading = Nid oeddem yn gallu cadarnhau pwy ydych chi
failed-body = Nid oedd { $provider } yn gallu cadarnhau pwy ydych chi.
failed-next = Gallwch ddychwelyd i'r gwasanaeth i ddod o hyd i ffyrdd eraill o'i ddefnyddio.
form-post-heading = Yn mynd â chi'n ôl i'r gwasanaeth
form-post-body = Os nad oes dim yn digwydd, dewiswch Parhau.
form-post-button = Parhau
request-uri-refused-body = Nid oedd modd defnyddio ei gais a wthiwyd: { $reason }.
sandbox-heading = Blwch tywod: beth mae'r hwb yn ei ateb i'ch gwasanaeth
sandbox-body = Gorfodwch ateb toredig neu anarferol ar gyfer un gwasanaeth, mewngofnodwch o'r gwasanaeth hwnnw a gwiriwch ei fod yn gwrthod yr ateb. Mae'r ateb yn aros wedi'i orfodi nes i chi ddewis yr ateb arferol eto.
sandbox-done = Wedi'i wneud
sandbox-now = Atebion wedi'u gorfodi nawr
sandbox-client = Gwasanaeth
sandbox-answer = Ateb
sandbox-none = Mae pob gwasanaeth yn cael yr ateb arferol.
sandbox-normal = Yr ateb arferol
sandbox-return-code = Neu'r cod dychwelyd hwn yn lle'r credyd hunaniaeth (llythrennau a digidau)
sandbox-force = Gorfodi'r ateb hwn
sandbox-rotate = Cylchdroi'r allweddi llofnodi nawr
sandbox-logout = Anfon allgofnodi sianel gefn nawr
sandbox-refused = Ni wnaeth y blwch tywod dderbyn hynny: { $reason }.
