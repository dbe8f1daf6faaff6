package privacy

import (
	"fmt"
	"strings"
)

// readmes are the README.txt of an export, per language: what each file is.
// %[1]s is the time of the export (UTC), %[2]d the number of screenings.
var readmes = map[string]string{
	"en": `AURA - a copy of everything AURA holds about you
================================================

Made on %[1]s (UTC). It holds %[2]d screening(s).

AURA measures the blood vessels of the retina in the photographs you send.
It does not diagnose: its numbers are screening indicators, and a doctor of
the clinic reviews every case.

The files
---------
README.txt          this file.
account.json        your account: email, name, phone, avatar, language,
                    roles, when it was made. (Your password is never stored
                    as such and is not included.)
patient.json        your patient profile: patient code, date of birth, sex,
                    medical history (absent if you never had one).
screenings.json     every screening you sent, as the AURA app shows it:
                    status, eye, note, clinic, the image's description, the
                    analysis (measurements, risk level, findings) and the
                    doctor's review.
screenings/<id>/    one folder per screening:
  screening.json      the same screening alone;
  image.*             the photograph as you uploaded it (byte for byte);
  vessels.png         the map of the vessels AURA found (if made);
  arteries-veins.png  the map of arteries and veins (if made);
  overlay.jpg         the photograph with the vessels and the optic disc
                      drawn on it (if made);
  report.pdf          the PDF report, if one was made (a report is made the
                      first time it is opened).
notifications.json  the messages AURA sent you in the app.
conversations.json  your conversations with clinics: every message, who
                    sent it (role and name) and when.
alerts.json         the alerts your results opened for the clinic's doctors
                    (a high risk level or a marked change), and what the
                    clinic did with them.
audit.json          the audit log entries about you and your screenings:
                    who (by account id and role) read or changed them, and
                    when. The network address is shown only for your own
                    actions.
`,
	"vi": `AURA - bản sao mọi dữ liệu AURA lưu về bạn
==========================================

Tạo lúc %[1]s (UTC). Gồm %[2]d ca sàng lọc.

AURA đo các mạch máu võng mạc trên ảnh bạn gửi. AURA không chẩn đoán: các
con số là chỉ số sàng lọc, và bác sĩ của phòng khám xem xét mọi trường hợp.

Các tệp
-------
README.txt          tệp này.
account.json        tài khoản của bạn: email, họ tên, số điện thoại, ảnh
                    đại diện, ngôn ngữ, vai trò, ngày tạo. (Mật khẩu không
                    bao giờ được lưu nguyên dạng và không có ở đây.)
patient.json        hồ sơ bệnh nhân: mã bệnh nhân, ngày sinh, giới tính,
                    tiền sử bệnh (không có nếu bạn chưa từng có hồ sơ).
screenings.json     mọi ca sàng lọc bạn đã gửi, như ứng dụng AURA hiển thị:
                    trạng thái, mắt, ghi chú, phòng khám, mô tả ảnh, kết quả
                    phân tích (các chỉ số, mức nguy cơ, nhận xét) và kết
                    luận của bác sĩ.
screenings/<id>/    mỗi ca sàng lọc một thư mục:
  screening.json      riêng ca sàng lọc đó;
  image.*             ảnh đúng như bạn đã tải lên (từng byte);
  vessels.png         bản đồ mạch máu AURA tìm thấy (nếu có);
  arteries-veins.png  bản đồ động mạch và tĩnh mạch (nếu có);
  overlay.jpg         ảnh có vẽ mạch máu và đĩa thị (nếu có);
  report.pdf          báo cáo PDF, nếu đã được tạo (báo cáo được tạo khi mở
                      lần đầu).
notifications.json  các thông báo AURA đã gửi bạn trong ứng dụng.
conversations.json  các cuộc trò chuyện của bạn với phòng khám: mọi tin
                    nhắn, ai gửi (vai trò và tên) và lúc nào.
alerts.json         các cảnh báo mà kết quả của bạn đã mở cho bác sĩ phòng
                    khám (mức nguy cơ cao hay thay đổi rõ), và phòng khám đã
                    xử lý ra sao.
audit.json          nhật ký truy cập về bạn và các ca sàng lọc của bạn: ai
                    (theo mã tài khoản và vai trò) đã xem hay thay đổi, và
                    khi nào. Địa chỉ mạng chỉ hiện với thao tác của chính bạn.
`,
}

// readmeTruncated is added when the audit log was cut to ExportAuditMax rows.
var readmeTruncated = map[string]string{
	"en": "\nThe audit log holds more entries about you than one export carries: audit.json has the oldest %d.\n",
	"vi": "\nNhật ký có nhiều mục về bạn hơn mức một lần xuất: audit.json gồm %d mục cũ nhất.\n",
}

// Readme is the README.txt of ex, in its language (English for "en",
// Vietnamese otherwise), with Windows line ends so every system shows it.
func Readme(ex *Export) string {
	lang := "vi"
	if ex.Lang == "en" {
		lang = "en"
	}
	s := fmt.Sprintf(readmes[lang], ex.At.Format("2006-01-02 15:04:05"), len(ex.Screenings))
	if ex.AuditTruncated {
		s += fmt.Sprintf(readmeTruncated[lang], len(ex.Audit))
	}
	return strings.ReplaceAll(s, "\n", "\r\n")
}
